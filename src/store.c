/*-------------------------------------------------------------------------
 *
 * store.c
 *	  Every read and write of the history tables: no other file names them.
 *
 * The tables are described in the install script (sql/undoredo--*.sql).
 * Callers pass and get plain values (ids, counts, a ScopeRow, a
 * HistoryStep array, chunks); none of them sees a tuple or a query.
 *
 * What a captured transaction writes -- the scope row, the step row and
 * the chunks of row changes -- is inserted with the table AM and its index
 * entries made by hand, without a query: an SPI round trip per row or per
 * transaction would cost more than the write it records.  Rows are formed
 * from the relations' own descriptors by column name, so columns dropped
 * by an upgrade script are simply left null.  No access check happens at
 * this level, so writers need no privilege on the history.
 *
 * Index entries are made as the executor makes them: only into indexes
 * ready for inserts (a concurrent index build picks up the rest), with
 * expressions and predicates evaluated.  The locks on the tables and
 * indexes written stay until the end of the transaction, as the
 * executor's do: a concurrent index build waits for their holders, so it
 * cannot miss a row not yet committed.  Lookups go through the indexes
 * named in extension.c; REINDEX CONCURRENTLY, which gives a name to a new
 * index, can only swap them while no transaction holds a write lock on
 * the table, and the old index stays usable until every transaction that
 * held a lock on the table has ended.
 *
 * Every write runs under the scope lock (scope.c), which serializes the
 * writers of one scope: a lookup with the latest snapshot sees the last
 * holder's committed work, and no other writer can race on the rows of the
 * scope.  (The owner and table lookups made before a statement takes the
 * lock, for access.c, only read.)  Statements that are not per row --
 * what undo, redo and the history functions read and move, and the rare
 * ones of capture -- are SQL through SPI, at the end of this file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "commands/sequence.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "parser/parse_relation.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "miscadmin.h"
#include "access/relscan.h"
#include "utils/fmgrprotos.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/syscache.h"
#include "parser/parse_type.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "undoredo.h"

/* A tuple of rel from (column name, value) pairs; other columns are null. */
static HeapTuple
form_row(Relation rel, int n, const char *const *names, const Datum *values,
		 const bool *nulls)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Datum	   *v = palloc0(sizeof(Datum) * desc->natts);
	bool	   *isnull = palloc(sizeof(bool) * desc->natts);
	int			i;
	int			j;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		isnull[i] = true;
		if (att->attisdropped)
			continue;
		for (j = 0; j < n; j++)
		{
			if (strcmp(NameStr(att->attname), names[j]) == 0)
			{
				v[i] = values[j];
				isnull[i] = nulls != NULL && nulls[j];
			}
		}
	}
	return heap_form_tuple(desc, v, isnull);
}

/*
 * Make the index entries of a heap tuple, as the executor does: an index
 * that CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY has not made ready
 * for inserts yet (indisready) is left alone, its build picks the tuple up;
 * expressions and predicates of indexes a DBA added are evaluated, and
 * exclusion constraints checked.  The locks stay until the end of the
 * transaction: a concurrent index build waits for the transactions that
 * hold them, so it cannot miss a row this one has not committed yet.
 */
static void
insert_index_entries(Relation rel, HeapTuple tuple)
{
	List	   *indexes = RelationGetIndexList(rel);
	EState	   *estate = NULL;
	TupleTableSlot *slot = NULL;
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Relation	irel = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo  *info;
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];

		if (!irel->rd_index->indisready)
		{
			index_close(irel, NoLock);
			continue;
		}
		info = BuildIndexInfo(irel);
		if (info->ii_Expressions == NIL && info->ii_Predicate == NIL &&
			info->ii_ExclusionOps == NULL)
		{
			int			i;

			for (i = 0; i < info->ii_NumIndexAttrs; i++)
				values[i] = heap_getattr(tuple, info->ii_IndexAttrNumbers[i],
										 RelationGetDescr(rel), &isnull[i]);
		}
		else
		{
			ExprContext *econtext;

			if (estate == NULL)
			{
				estate = CreateExecutorState();
				slot = MakeSingleTupleTableSlot(RelationGetDescr(rel),
												&TTSOpsHeapTuple);
				ExecStoreHeapTuple(tuple, slot, false);
			}
			econtext = GetPerTupleExprContext(estate);
			econtext->ecxt_scantuple = slot;
			if (info->ii_Predicate != NIL &&
				!ExecQual(ExecPrepareQual(info->ii_Predicate, estate), econtext))
			{
				index_close(irel, NoLock);
				continue;
			}
			FormIndexDatum(info, slot, estate, values, isnull);
		}
		index_insert(irel, values, isnull, &tuple->t_self, rel,
					 irel->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
					 false, info);
		if (info->ii_ExclusionOps != NULL)
			check_exclusion_constraint(rel, irel, info, &tuple->t_self,
									   values, isnull, estate, false);
		index_close(irel, NoLock);
	}
	if (estate != NULL)
	{
		ExecDropSingleTupleTableSlot(slot);
		FreeExecutorState(estate);
	}
	list_free(indexes);
}

static void
insert_row(Relation rel, HeapTuple tuple)
{
	heap_insert(rel, tuple, GetCurrentCommandId(true), 0, NULL);
	insert_index_entries(rel, tuple);
}

/*
 * Step and scope ids.  They come from the extension's sequences, but the
 * history may hold rows whose ids did not: PostgreSQL's logical replication
 * copies tables, not sequences, so a subscriber promoted to take writes has
 * the publisher's history with its sequences still at their start (rows
 * restored or copied by other means are the same).  A new id is therefore
 * checked against the greatest id in the history: one probe of the
 * rightmost entry of a unique index led by the id, reading no heap, cheap on
 * the capture path.  An id not above it moves the sequence past it.  A step
 * id above every step id of the history is also above every step of its
 * scope, so the steps of a scope stay in the order they were recorded.
 */

/* field4 of the advisory lock that serializes moving a sequence ("UI") */
#define UNDOREDO_ID_LOCK_SPACE 0x5549

/*
 * The greatest value of the first column of a unique index, over every
 * row version the index points to, live or not (an id of a dead or
 * uncommitted row is taken too).
 */
static int64
greatest_id(const char *table, const char *index)
{
	Relation	rel = table_open(undoredo_history_relid(table), AccessShareLock);
	Relation	irel = index_open(undoredo_history_relid(index), AccessShareLock);
	SysScanDesc scan;
	HeapTuple	tuple;
	int64		greatest = 0;

	/* the ordered scan API is the same in every major, index_beginscan not */
	scan = systable_beginscan_ordered(rel, irel, SnapshotAny, 0, NULL);
	tuple = systable_getnext_ordered(scan, BackwardScanDirection);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, irel->rd_index->indkey.values[0],
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			greatest = DatumGetInt64(d);
	}
	systable_endscan_ordered(scan);
	index_close(irel, AccessShareLock);
	table_close(rel, AccessShareLock);
	return greatest;
}

/*
 * A new id from the sequence, above every id in the index.  Moving the
 * sequence is serialized by an advisory lock.  Where the gap is small the
 * sequence is advanced by nextval, which only ever moves forward; a larger
 * gap is jumped with setval, safe because no other backend can take that
 * many values meanwhile: one that takes a value not above the history's
 * greatest id waits for this lock before it takes another.
 */
static int64
new_id(const char *seq, const char *table, const char *index, uint32 which)
{
	Oid			seqid = undoredo_history_relid(seq);
	int64		id = nextval_internal(seqid, false);
	int64		greatest = greatest_id(table, index);
	LOCKTAG		tag;

	if (id > greatest)
		return id;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, which, UNDOREDO_ID_LOCK_SPACE);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	id = nextval_internal(seqid, false);
	if (id <= greatest && greatest - id > 10000)
	{
		UserContext saved;

		undoredo_become_owner(&saved);
		DirectFunctionCall2(setval_oid, ObjectIdGetDatum(seqid),
							Int64GetDatum(greatest));
		undoredo_restore_user(&saved);
		id = nextval_internal(seqid, false);
	}
	while (id <= greatest)
		id = nextval_internal(seqid, false);
	LockRelease(&tag, ExclusiveLock, false);
	return id;
}

/*
 * Which tables hold a scope's history.  A scope id is what the callers of
 * this file hold for a scope: a positive id names the scope's rows in the
 * extension's own tables (undoredo_scope.scope_id).  A scope of an object
 * type registered for Citus (placement.c) is kept in this node's shards of
 * the type's four distributed tables, in which the object id is the scope
 * id and step ids come from a counter in the scope's row (they move with
 * the shards, where sequences stay behind); its callers hold a negative
 * id, a handle to an entry of this transaction's list of such scopes
 * below, which says which shards they are and maps the tables the history
 * names (table ids, placement.c) to this node's shards.  The list lives in
 * the transaction's memory and is forgotten with it: a shard may move
 * between two transactions, not while one holds a lock on it, which the
 * transaction that looks a scope up takes.
 */
typedef struct HistoryTables
{
	bool		distributed;	/* a registered type's shards */
	int64		key;			/* distributed: the object id */
	char	   *object_type;	/* distributed: for messages */
	Oid			scope;			/* the four relations */
	Oid			undo;
	Oid			redo;
	Oid			change;
	Oid			scope_index;	/* unique, on (object_type, object_id) or
								 * (scope_id) */
	Oid			redo_index;		/* led by scope_id */
	Oid			change_index;	/* (step, seq) or (scope_id, step, seq) */
	char	   *qnames[4];		/* qualified names, for SQL text */
	int			ntables;		/* distributed: table ids seen, and */
	Oid		   *table_ids;		/* this node's shards of them */
	Oid		   *table_shards;
} HistoryTables;

enum
{
	HT_SCOPE, HT_UNDO, HT_REDO, HT_CHANGE
};

static HistoryTables local_tables;
static uint64 local_tables_generation = 0;
static List *distributed_scopes = NIL;	/* of HistoryTables, in this xact */

static void
forget_distributed_scopes(void *arg pg_attribute_unused())
{
	distributed_scopes = NIL;
}

/*
 * The extension's own history tables.  Their oids are looked up each time
 * (extension.c keeps them, and forgets an index that REINDEX CONCURRENTLY
 * replaced); their names change only with the schema's.
 */
static HistoryTables *
own_tables(void)
{
	const UndoRedoExtension *ext = undoredo_extension();
	static const char *const names[] = {"undoredo_scope", "undo_action",
	"redo_action", "undoredo_change"};

	local_tables.distributed = false;
	local_tables.scope = undoredo_history_relid("undoredo_scope");
	local_tables.undo = undoredo_history_relid("undo_action");
	local_tables.redo = undoredo_history_relid("redo_action");
	local_tables.change = undoredo_history_relid("undoredo_change");
	local_tables.scope_index = undoredo_history_relid("undoredo_scope_object_type_object_id_key");
	local_tables.redo_index = undoredo_history_relid("redo_action_scope_idx");
	local_tables.change_index = undoredo_history_relid("undoredo_change_pkey");
	if (local_tables.qnames[0] == NULL || local_tables_generation != ext->generation)
	{
		int			i;

		for (i = 0; i < 4; i++)
		{
			if (local_tables.qnames[i] != NULL)
				pfree(local_tables.qnames[i]);
			local_tables.qnames[i] = MemoryContextStrdup(TopMemoryContext,
														 psprintf("%s.%s", ext->qschema,
																  names[i]));
		}
		local_tables_generation = ext->generation;
	}
	return &local_tables;
}

/* Is the object type registered for Citus (placement.c)? */
static bool
registered(const char *object_type)
{
	return undoredo_citus_loaded() &&
		OidIsValid(undoredo_placement_history_table(object_type, "scope"));
}

/* Is the object type of the scope ("<type>:<id>") registered for Citus? */
static bool
scope_registered(const char *scope)
{
	return registered(pnstrdup(scope, strchr(scope, ':') - scope));
}

/* The index of rel whose key columns are exactly the given ones. */
static Oid
index_on(Oid relid, int ncolumns, const char *const *columns)
{
	Relation	rel = table_open(relid, AccessShareLock);
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;
		int			i;
		bool		match;

		if (!HeapTupleIsValid(tuple))
			continue;
		index = (Form_pg_index) GETSTRUCT(tuple);
		match = index->indisunique && index->indnkeyatts == ncolumns;
		for (i = 0; match && i < ncolumns; i++)
			match = index->indkey.values[i] == attnameAttNum(rel, columns[i], false);
		ReleaseSysCache(tuple);
		if (match)
			found = lfirst_oid(lc);
	}
	list_free(indexes);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(found))
		elog(ERROR, "undoredo: history shard \"%s\" has no index on its keys",
			 get_rel_name(relid));
	return found;
}

/*
 * The scope id of a scope of a registered type: the handle of its entry,
 * made on first use in this transaction.  An error when this node does
 * not hold the object's shards: the history is elsewhere.
 */
static int64
distributed_scope(const char *object_type, const char *object_id)
{
	static const char *const parts[] = {"scope", "undo", "redo", "change"};
	static const char *const scope_key[] = {"scope_id"};
	static const char *const redo_key[] = {"scope_id", "step"};
	static const char *const change_key[] = {"scope_id", "step", "seq"};
	HistoryTables *t;
	MemoryContext oldcxt;
	Oid			relids[4];
	Oid			shards[4];
	int64		key;
	char	   *end;
	ListCell   *lc;
	bool		found;
	int			i;

	errno = 0;
	key = strtoi64(object_id, &end, 10);
	/* one text per id, as for the bigint forms of the functions: not "042" */
	if (errno != 0 || *end != '\0' || end == object_id ||
		strcmp(psprintf(INT64_FORMAT, key), object_id) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("object id \"%s\" is not the decimal text of a bigint", object_id),
				 errdetail("Object type \"%s\" is registered for Citus, where object ids are the bigint values its tables are distributed by.",
						   object_type)));
	i = 0;
	foreach(lc, distributed_scopes)
	{
		t = lfirst(lc);
		i++;
		if (t->key == key && strcmp(t->object_type, object_type) == 0)
			return -i;
	}
	for (i = 0; i < 4; i++)
		relids[i] = undoredo_placement_history_table(object_type, parts[i]);
	found = undoredo_placement_shards(4, relids, key, shards);

	/*
	 * Locked until the transaction ends, as a query on them would: a shard
	 * move's drop of the source shards waits for this transaction (and one
	 * that dropped them first leaves none to lock).
	 */
	for (i = 0; found && i < 4; i++)
	{
		LockRelationOid(shards[i], AccessShareLock);
		found = SearchSysCacheExists1(RELOID, ObjectIdGetDatum(shards[i]));
	}
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the history of \"%s:%s\" is on another node",
						object_type, object_id),
				 errdetail("Object type \"%s\" is registered for Citus: the history of an object is kept with its rows, on the node that holds their shards.",
						   object_type),
				 errhint("Call the function in a statement that Citus routes by the object id, such as SELECT * FROM undoredo_undo('%s', %s).",
						 object_type, object_id)));
	if (distributed_scopes == NIL)
	{
		MemoryContextCallback *cb = MemoryContextAlloc(TopTransactionContext,
													   sizeof(MemoryContextCallback));

		cb->func = forget_distributed_scopes;
		cb->arg = NULL;
		MemoryContextRegisterResetCallback(TopTransactionContext, cb);
	}
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	t = palloc0(sizeof(HistoryTables));
	t->distributed = true;
	t->key = key;
	t->object_type = pstrdup(object_type);
	t->scope = shards[HT_SCOPE];
	t->undo = shards[HT_UNDO];
	t->redo = shards[HT_REDO];
	t->change = shards[HT_CHANGE];
	for (i = 0; i < 4; i++)
		t->qnames[i] = psprintf("%s.%s",
								quote_identifier(get_namespace_name(get_rel_namespace(shards[i]))),
								quote_identifier(get_rel_name(shards[i])));
	t->scope_index = index_on(t->scope, 1, scope_key);
	t->redo_index = index_on(t->redo, 2, redo_key);
	t->change_index = index_on(t->change, 3, change_key);
	distributed_scopes = lappend(distributed_scopes, t);
	MemoryContextSwitchTo(oldcxt);
	return -list_length(distributed_scopes);
}

/* The tables of a scope id, and the id its rows have in them. */
static HistoryTables *
tables_of(int64 scope_id, int64 *id)
{
	HistoryTables *t;

	if (scope_id >= 0)
	{
		*id = scope_id;
		return own_tables();
	}
	if (-scope_id > list_length(distributed_scopes))
		elog(ERROR, "undoredo: scope handle " INT64_FORMAT " outlived its transaction",
			 scope_id);
	t = list_nth(distributed_scopes, (int) (-scope_id - 1));
	*id = t->key;
	return t;
}

/*
 * A tracked table of a distributed scope: this node's shard of it from its
 * table id, or back.  Kept for the transaction.
 */
static Oid
table_shard(HistoryTables *t, Oid table_id)
{
	MemoryContext oldcxt;
	Oid			shard;
	int			i;

	for (i = 0; i < t->ntables; i++)
		if (t->table_ids[i] == table_id)
			return t->table_shards[i];
	shard = undoredo_placement_table_shard(table_id, t->key);
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	if (t->ntables == 0)
	{
		t->table_ids = palloc(sizeof(Oid) * 8);
		t->table_shards = palloc(sizeof(Oid) * 8);
	}
	else if (t->ntables % 8 == 0)
	{
		t->table_ids = repalloc(t->table_ids, sizeof(Oid) * (t->ntables + 8));
		t->table_shards = repalloc(t->table_shards, sizeof(Oid) * (t->ntables + 8));
	}
	t->table_ids[t->ntables] = table_id;
	t->table_shards[t->ntables] = shard;
	t->ntables++;
	MemoryContextSwitchTo(oldcxt);
	return shard;
}

static Oid
table_id(HistoryTables *t, Oid shard)
{
	Oid			id;
	int			i;

	for (i = 0; i < t->ntables; i++)
		if (t->table_shards[i] == shard && OidIsValid(shard))
			return t->table_ids[i];
	id = undoredo_placement_table_id(shard);
	if (!OidIsValid(id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has no table id for the history of object type \"%s\"",
						get_rel_name(shard), t->object_type),
				 errdetail("Its capture trigger was made before the table was distributed or before the object type was registered for Citus."),
				 errhint("Run undoredo_track on the distributed table again on the coordinator.")));
	(void) table_shard(t, id);
	return id;
}

/* The oids of a regclass[] or oid[] of table ids, as this node's tables. */
static Oid *
local_tables_of(HistoryTables *t, ArrayType *arr, int *n)
{
	Datum	   *elems;
	Oid		   *oids;
	int			i;

	deconstruct_array(arr, ARR_ELEMTYPE(arr), sizeof(Oid), true, TYPALIGN_INT,
					  &elems, NULL, n);
	oids = palloc(sizeof(Oid) * Max(*n, 1));
	for (i = 0; i < *n; i++)
		oids[i] = t->distributed ? table_shard(t, DatumGetObjectId(elems[i])) :
			DatumGetObjectId(elems[i]);
	return oids;
}

/*
 * Scope rows seen committed, kept across transactions: the scope's id, its
 * owner and tables known to be in its set of tables (access.c).  An id
 * never changes; an owner changes only from none to a role (entries with
 * no owner are not kept) or back to none by undoredo_clear, which
 * invalidates undoredo_scope's relcache entry so that every backend forgets
 * its entries when it next takes a scope lock (scope.c accepts
 * invalidations right after taking it); the set of tables only grows until
 * then, so the cached tables are a subset of the row's.  Another
 * undoredo_scope (DROP and CREATE EXTENSION, TRUNCATE: another
 * relfilenode) makes the entries stale too.
 */
typedef struct ScopeIdEntry
{
	uint64		hash;			/* key: hash of the scope's name */
	char	   *scope;
	int64		scope_id;
	Oid			owner;
	int			ntables;
	Oid		   *tables;			/* in TopMemoryContext */
} ScopeIdEntry;

static HTAB *scope_ids = NULL;
static Oid	scope_ids_filenode = InvalidOid;
static Oid	scope_ids_relid = InvalidOid;
static bool scope_ids_stale = false;
static bool scope_ids_callback = false;

static uint64
scope_hash(const char *scope)
{
	return hash_bytes_extended((const unsigned char *) scope, strlen(scope), 0);
}

static void
forget_scope_ids(Datum arg pg_attribute_unused(), Oid relid)
{
	if (relid == InvalidOid || relid == scope_ids_relid)
		scope_ids_stale = true;
}

static void
free_entry(ScopeIdEntry *entry)
{
	pfree(entry->scope);
	if (entry->tables)
		pfree(entry->tables);
}

/* The relfilenode of undoredo_scope now; forgets the cache if it moved. */
static void
check_scope_ids(void)
{
	Oid			relid = undoredo_history_relid("undoredo_scope");
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			filenode;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	filenode = ((Form_pg_class) GETSTRUCT(tuple))->relfilenode;
	ReleaseSysCache(tuple);
	if (!scope_ids_callback)
	{
		undoredo_on_relcache_change(forget_scope_ids);
		scope_ids_callback = true;
	}
	if (scope_ids == NULL || filenode != scope_ids_filenode ||
		relid != scope_ids_relid || scope_ids_stale)
	{
		HASHCTL		ctl;

		if (scope_ids != NULL)
		{
			HASH_SEQ_STATUS status;
			ScopeIdEntry *entry;

			hash_seq_init(&status, scope_ids);
			while ((entry = hash_seq_search(&status)) != NULL)
				free_entry(entry);
			hash_destroy(scope_ids);
		}
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(ScopeIdEntry);
		scope_ids = hash_create("undoredo scope ids", 64, &ctl,
								HASH_ELEM | HASH_BLOBS);
		scope_ids_filenode = filenode;
		scope_ids_relid = relid;
		scope_ids_stale = false;
	}
}

/*
 * At commit: the scope rows this transaction used are committed now.  A
 * scope without an owner is not kept: another backend may claim it
 * without telling this one.
 */
void
undoredo_store_remember_scope(const char *scope, int64 scope_id,
							  const ScopeRow *row)
{
	uint64		hash = scope_hash(scope);
	ScopeIdEntry *entry;
	bool		found;

	if (scope_ids == NULL || scope_ids_stale || scope_id < 0)
		return;
	if (!OidIsValid(row->owner))
	{
		entry = hash_search(scope_ids, &hash, HASH_FIND, NULL);
		if (entry != NULL)
		{
			free_entry(entry);
			hash_search(scope_ids, &hash, HASH_REMOVE, NULL);
		}
		return;
	}
	entry = hash_search(scope_ids, &hash, HASH_ENTER, &found);
	if (found)
		free_entry(entry);
	entry->scope = MemoryContextStrdup(TopMemoryContext, scope);
	entry->scope_id = scope_id;
	entry->owner = row->owner;
	entry->ntables = row->ntables;
	entry->tables = NULL;
	if (row->ntables > 0)
	{
		entry->tables = MemoryContextAlloc(TopMemoryContext,
										   sizeof(Oid) * row->ntables);
		memcpy(entry->tables, row->tables, sizeof(Oid) * row->ntables);
	}
}

/*
 * Insert a scope's row, made by a capture with its owner and first table
 * (relid: InvalidOid for none), and say so in row.
 */
static void
new_scope_row(Relation rel, int n, const char *const *names, const Datum *values,
			  const bool *nulls, Oid owner, Oid relid, ScopeRow *row)
{
	insert_row(rel, form_row(rel, n, names, values, nulls));
	row->owner = owner;
	row->ntables = OidIsValid(relid) ? 1 : 0;
	row->tables = palloc(sizeof(Oid));
	row->tables[0] = relid;
}

/* A role's name, for a distributed history, which keeps no oids. */
static Datum
role_name(Oid role)
{
	return CStringGetTextDatum(GetUserNameFromId(role, false));
}

/* A role from its name in a distributed history: InvalidOid when gone. */
static Oid
role_of(Datum name)
{
	return get_role_oid(TextDatumGetCString(name), true);
}

/*
 * The scope row of a scope of a registered type, in this node's shard
 * (undoredo_store_scope).  Not cached across transactions: the shard may
 * move away between them.
 */
static int64
distributed_scope_row(const char *scope, Oid owner, Oid relid, bool make,
					  ScopeRow *row)
{
	const char *colon = strchr(scope, ':');
	int64		scope_id = distributed_scope(pnstrdup(scope, colon - scope), colon + 1);
	int64		key;
	HistoryTables *t = tables_of(scope_id, &key);
	Relation	rel = table_open(t->scope, make ? RowExclusiveLock : AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	ScanKeyData skey;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		isnull;

	ScanKeyInit(&skey, attnameAttNum(rel, "scope_id", false),
				BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(key));
	scan = systable_beginscan(rel, t->scope_index, true, snapshot, 1, &skey);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		Datum		d = heap_getattr(tuple, attnameAttNum(rel, "owner", false),
									 desc, &isnull);

		row->owner = isnull ? InvalidOid : role_of(d);
		d = heap_getattr(tuple, attnameAttNum(rel, "relids", false), desc, &isnull);
		row->ntables = 0;
		row->tables = NULL;
		if (!isnull)
			row->tables = local_tables_of(t, DatumGetArrayTypeP(d), &row->ntables);
	}
	else if (!make)
	{
		row->owner = InvalidOid;
		row->ntables = 0;
		row->tables = NULL;
		scope_id = 0;
	}
	else
	{
		static const char *const names[] = {"scope_id", "object_type", "object_id",
		"owner", "relids", "next_step"};
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};
		Datum		elem;

		values[0] = Int64GetDatum(key);
		values[1] = PointerGetDatum(cstring_to_text_with_len(scope, colon - scope));
		values[2] = CStringGetTextDatum(colon + 1);
		if (OidIsValid(owner))
			values[3] = role_name(owner);
		nulls[3] = !OidIsValid(owner);
		if (OidIsValid(relid))
			elem = ObjectIdGetDatum(table_id(t, relid));
		values[4] = PointerGetDatum(construct_array(&elem, OidIsValid(relid) ? 1 : 0,
													OIDOID, sizeof(Oid), true,
													TYPALIGN_INT));
		values[5] = Int64GetDatum(0);
		new_scope_row(rel, 6, names, values, nulls, owner, relid, row);
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, make ? NoLock : AccessShareLock);
	return scope_id;
}

/*
 * The scope's id, its row made if missing: with the given owner and table
 * when they are valid (a capture makes it).  What the row says of the
 * owner and the tables goes to row (its tables valid until the next call).
 * Called with the scope lock held.
 */
int64
undoredo_store_scope(const char *scope, Oid owner, Oid relid, ScopeRow *row)
{
	uint64		hash = scope_hash(scope);
	ScopeIdEntry *entry;
	const char *colon = strchr(scope, ':');
	Relation	rel;
	Oid			keyidx;
	Snapshot	snapshot;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	int64		scope_id;
	static const char *const names[] = {"scope_id", "object_type", "object_id",
	"owner", "relids"};
	Datum		values[5];
	bool		isnull;

	if (scope_registered(scope))
		return distributed_scope_row(scope, owner, relid, true, row);
	check_scope_ids();
	entry = hash_search(scope_ids, &hash, HASH_FIND, NULL);
	if (entry != NULL && strcmp(entry->scope, scope) == 0)
	{
		row->owner = entry->owner;
		row->ntables = entry->ntables;
		row->tables = entry->tables;
		return entry->scope_id;
	}

	rel = table_open(undoredo_history_relid("undoredo_scope"), RowExclusiveLock);
	keyidx = undoredo_history_relid("undoredo_scope_object_type_object_id_key");
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	values[1] = PointerGetDatum(cstring_to_text_with_len(scope, colon - scope));
	values[2] = CStringGetTextDatum(colon + 1);
	ScanKeyInit(&key[0], attnameAttNum(rel, "object_type", false),
				BTEqualStrategyNumber, F_TEXTEQ, values[1]);
	ScanKeyInit(&key[1], attnameAttNum(rel, "object_id", false),
				BTEqualStrategyNumber, F_TEXTEQ, values[2]);
	key[0].sk_collation = key[1].sk_collation = DEFAULT_COLLATION_OID;
	scan = systable_beginscan(rel, keyidx, true, snapshot, 2, key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		Datum		d;
		Oid			row_owner = InvalidOid;
		Datum	   *elems = NULL;
		int			nelems = 0;
		Oid		   *tables;
		int			i;

		scope_id = DatumGetInt64(heap_getattr(tuple,
											  attnameAttNum(rel, "scope_id", false),
											  desc, &isnull));
		d = heap_getattr(tuple, attnameAttNum(rel, "owner", false), desc, &isnull);
		if (!isnull)
			row_owner = DatumGetObjectId(d);
		d = heap_getattr(tuple, attnameAttNum(rel, "relids", false), desc, &isnull);
		if (!isnull)
			deconstruct_array(DatumGetArrayTypeP(d), REGCLASSOID, sizeof(Oid),
							  true, TYPALIGN_INT, &elems, NULL, &nelems);
		tables = palloc(sizeof(Oid) * Max(nelems, 1));
		for (i = 0; i < nelems; i++)
			tables[i] = DatumGetObjectId(elems[i]);
		row->owner = row_owner;
		row->ntables = nelems;
		row->tables = tables;
	}
	else
	{
		Datum		elem = ObjectIdGetDatum(relid);
		bool		nulls[5] = {false, false, false, false, false};

		scope_id = new_id("undoredo_scope_seq", "undoredo_scope",
						  "undoredo_scope_pkey", 1);
		values[0] = Int64GetDatum(scope_id);
		values[3] = ObjectIdGetDatum(owner);
		nulls[3] = !OidIsValid(owner);
		values[4] = PointerGetDatum(construct_array(&elem, OidIsValid(relid) ? 1 : 0,
													REGCLASSOID, sizeof(Oid),
													true, TYPALIGN_INT));
		new_scope_row(rel, 5, names, values, nulls, owner, relid, row);
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);
	return scope_id;
}

/*
 * The scope's owner as this backend last saw it committed: false when it
 * does not know one.  Another backend may have cleared the scope since.
 */
bool
undoredo_store_cached_owner(const char *scope, Oid *owner)
{
	uint64		hash = scope_hash(scope);
	ScopeIdEntry *entry;

	if (scope_registered(scope))
		return false;
	check_scope_ids();
	entry = hash_search(scope_ids, &hash, HASH_FIND, NULL);
	if (entry == NULL || strcmp(entry->scope, scope) != 0)
		return false;
	*owner = entry->owner;
	return true;
}

/*
 * The scope's owner as last committed, without the scope lock: InvalidOid
 * when it has no row or no owner.
 */
Oid
undoredo_store_read_owner(const char *scope)
{
	const char *colon = strchr(scope, ':');
	Relation	rel;
	Snapshot	snapshot;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			owner = InvalidOid;

	if (scope_registered(scope))
	{
		ScopeRow	row;

		(void) distributed_scope_row(scope, InvalidOid, InvalidOid, false, &row);
		return row.owner;
	}
	rel = table_open(undoredo_history_relid("undoredo_scope"), AccessShareLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	ScanKeyInit(&key[0], attnameAttNum(rel, "object_type", false),
				BTEqualStrategyNumber, F_TEXTEQ,
				PointerGetDatum(cstring_to_text_with_len(scope, colon - scope)));
	ScanKeyInit(&key[1], attnameAttNum(rel, "object_id", false),
				BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(colon + 1));
	key[0].sk_collation = key[1].sk_collation = DEFAULT_COLLATION_OID;
	scan = systable_beginscan(rel,
							  undoredo_history_relid("undoredo_scope_object_type_object_id_key"),
							  true, snapshot, 2, key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, attnameAttNum(rel, "owner", false),
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			owner = DatumGetObjectId(d);
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return owner;
}

/* The next step id of a distributed scope, from the counter in its row. */
static int64
next_step_id(HistoryTables *t)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	UserContext saved;
	int64		step;
	bool		isnull;

	values[0] = Int64GetDatum(t->key);
	undoredo_spi_connect();
	undoredo_become_owner(&saved);
	if (undoredo_execute_plan(undoredo_plan(t->scope,
											psprintf("UPDATE %s SET next_step = next_step"
													 " OPERATOR(pg_catalog.+) 1"
													 " WHERE scope_id OPERATOR(pg_catalog.=) $1"
													 " RETURNING next_step",
													 t->qnames[HT_SCOPE]),
											1, argtypes),
							  values, NULL, InvalidSnapshot, false, 0) != SPI_OK_UPDATE_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "undoredo: scope row " INT64_FORMAT " is missing", t->key);
	step = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									   1, &isnull));
	undoredo_restore_user(&saved);
	undoredo_spi_finish();
	return step;
}

/*
 * Does the scope have steps to redo of this actor (NULL: of no actor)?
 * Called with the scope lock held.
 */
bool
undoredo_store_has_redo(int64 scope_id, const char *actor)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	Relation	rel = table_open(t->redo, AccessShareLock);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	AttrNumber	actor_att = attnameAttNum(rel, "actor", false);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	ScanKeyInit(&key, attnameAttNum(rel, "scope_id", false),
				BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(id));
	scan = systable_beginscan(rel, t->redo_index, true, snapshot, 1, &key);
	while (!found && HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, actor_att, RelationGetDescr(rel), &isnull);

		if (isnull || actor == NULL)
			found = isnull && actor == NULL;
		else
		{
			char	   *a = TextDatumGetCString(d);

			found = strcmp(a, actor) == 0;
			pfree(a);
		}
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Insert a new undoable step of the scope; returns its id.  label and
 * actor: NULL or empty for none; reverts: the step it reverts, or 0.
 */
int64
undoredo_store_step(int64 scope_id, const char *label, const char *actor,
					int64 reverts, TimestampTz created_at)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	Relation	rel = table_open(t->undo, RowExclusiveLock);
	static const char *const names[] = {"step", "scope_id", "label",
	"created_at", "actor", "reverts"};
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, true, true};
	int64		step = t->distributed ? next_step_id(t) :
		new_id("undoredo_step_seq", "undoredo_change", "undoredo_change_pkey", 2);

	values[0] = Int64GetDatum(step);
	values[1] = Int64GetDatum(id);
	if (label != NULL && label[0] != '\0')
		values[2] = CStringGetTextDatum(label);
	else
		nulls[2] = true;
	values[3] = TimestampTzGetDatum(created_at);
	if (actor != NULL && actor[0] != '\0')
	{
		values[4] = CStringGetTextDatum(actor);
		nulls[4] = false;
	}
	if (reverts != 0)
	{
		values[5] = Int64GetDatum(reverts);
		nulls[5] = false;
	}
	insert_row(rel, form_row(rel, 6, names, values, nulls));
	table_close(rel, NoLock);
	return step;
}

/*
 * Insert a chunk of row changes: count changes numbered from seq, which
 * refer to the tables relids by their position in it.  data holds the
 * changes after VARHDRSZ bytes of room for the bytea's header; this takes
 * it (data->data is freed and set to NULL).  A regclass[] is
 * dumped by name, so a dump restored elsewhere still finds the tables.
 * The user-defined types whose oids the images hold are stored twice, as
 * those oids (oid[]) and as regtype[], which pg_dump writes by name: replay
 * maps the one to the other (image.c).  Without such types both are null.
 * The tables' oids at capture (reloids, oid[], which pg_dump keeps as
 * numbers), their column names by attnum (relcolumns, one text[] literal
 * per table) and the origin let replay find the columns by name in a table
 * that is not the one that recorded the changes (image.c).
 */
void
undoredo_store_chunk(int64 scope_id, int64 step, int32 seq, int32 count,
					 int nrelids, const Oid *relids, char *const *relcolumns,
					 const TypeSet *types, StringInfo data)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	Relation	rel = table_open(t->change, RowExclusiveLock);
	static const char *const names[] = {"step", "seq", "nchanges", "relids",
	"changes", "typoids", "types", "reloids", "relcolumns", "origin",
	"scope_id"};
	Datum		values[11];
	bool		nulls[11] = {false, false, false, false, false, true, true,
	false, false, false, false};
	Datum	   *elems = palloc(sizeof(Datum) * Max(Max(nrelids, types->ntypes), 1));
	Datum	   *texts = palloc(sizeof(Datum) * Max(nrelids, 1));
	HeapTuple	tuple;
	int			i;

	for (i = 0; i < nrelids; i++)
	{
		elems[i] = ObjectIdGetDatum(relids[i]);
		texts[i] = CStringGetTextDatum(relcolumns[i]);
	}
	values[7] = PointerGetDatum(construct_array(elems, nrelids, OIDOID,
												sizeof(Oid), true, TYPALIGN_INT));
	values[8] = PointerGetDatum(construct_array(texts, nrelids, TEXTOID,
												-1, false, TYPALIGN_INT));
	values[9] = CStringGetTextDatum(undoredo_origin());

	/* the bytea, made in place: data begins with room for its header */
	SET_VARSIZE(data->data, data->len);
	values[0] = Int64GetDatum(step);
	values[1] = Int32GetDatum(seq);
	values[2] = Int32GetDatum(count);
	values[10] = Int64GetDatum(id);
	if (t->distributed)
	{
		/* tables by their ids, types by name: no oid of this node */
		for (i = 0; i < nrelids; i++)
			elems[i] = ObjectIdGetDatum(table_id(t, relids[i]));
		values[3] = PointerGetDatum(construct_array(elems, nrelids, OIDOID,
													sizeof(Oid), true, TYPALIGN_INT));
	}
	else
		values[3] = PointerGetDatum(construct_array(elems, nrelids, REGCLASSOID,
													sizeof(Oid), true, TYPALIGN_INT));
	values[4] = PointerGetDatum(data->data);
	if (types->ntypes > 0)
	{
		for (i = 0; i < types->ntypes; i++)
			elems[i] = ObjectIdGetDatum(types->types[i]);
		values[5] = PointerGetDatum(construct_array(elems, types->ntypes, OIDOID,
													sizeof(Oid), true, TYPALIGN_INT));
		if (t->distributed)
		{
			for (i = 0; i < types->ntypes; i++)
				elems[i] = CStringGetTextDatum(format_type_be_qualified(types->types[i]));
			values[6] = PointerGetDatum(construct_array(elems, types->ntypes, TEXTOID,
														-1, false, TYPALIGN_INT));
		}
		else
			values[6] = PointerGetDatum(construct_array(elems, types->ntypes, REGTYPEOID,
														sizeof(Oid), true, TYPALIGN_INT));
		nulls[5] = nulls[6] = false;
	}
	tuple = form_row(rel, 11, names, values, nulls);
	/* taken: freed before the row is stored, which may toast a copy */
	pfree(data->data);
	data->data = NULL;
	insert_row(rel, tuple);
	table_close(rel, NoLock);
}

/* A chunk's table ids as a regclass[] of this node's shards of them. */
static ArrayType *
local_relids(HistoryTables *t, ArrayType *ids)
{
	int			n;
	Oid		   *oids = local_tables_of(t, ids, &n);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = ObjectIdGetDatum(oids[i]);
	return construct_array(elems, n, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT);
}

/*
 * A chunk's type names as a regtype[] of this node's types; a type that
 * is gone is InvalidOid, which replay reports (image.c).
 */
static ArrayType *
types_by_name(ArrayType *names)
{
	Datum	   *elems;
	int			n;
	int			i;

	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &n);
	for (i = 0; i < n; i++)
	{
		Oid			typid;
		int32		typmod;

#if PG_VERSION_NUM >= 160000
		ErrorSaveContext escontext = {T_ErrorSaveContext};

		if (!parseTypeString(TextDatumGetCString(elems[i]), &typid, &typmod,
							 (Node *) &escontext))
			typid = InvalidOid;
#else
		parseTypeString(TextDatumGetCString(elems[i]), &typid, &typmod, true);
#endif
		elems[i] = ObjectIdGetDatum(typid);
	}
	return construct_array(elems, n, REGTYPEOID, sizeof(Oid), true, TYPALIGN_INT);
}

/*
 * Reading a step's chunks.  A direct, ordered scan of
 * undoredo_change's primary key: no portal or cursor is opened, so nothing
 * that user code running during the replay (triggers, rules, functions in
 * defaults or index expressions) could name, move, fetch from or close.
 * The chunks are copied out of the buffer, so the caller may run anything
 * between two calls of next_chunk.  The scan itself always
 * runs in the memory context it began in: the index AM allocates some of
 * its state while fetching (nbtree its list of killed items, freed at the
 * end of the scan), and the caller resets its context between chunks.
 */
typedef struct UndoRedoChunkScan
{
	HistoryTables *tables;
	Relation	rel;
	Relation	index;
	Snapshot	snapshot;
	SysScanDesc scan;
	ScanDirection direction;
	MemoryContext cxt;			/* where the scan's state lives */
} UndoRedoChunkScan;

static UndoRedoChunkScan *
begin_chunks(int64 scope_id, int64 step, bool backward)
{
	UndoRedoChunkScan *cs = palloc(sizeof(UndoRedoChunkScan));
	int64		id;
	ScanKeyData key[2];
	int			nkeys = 0;

	cs->tables = tables_of(scope_id, &id);
	/* chunks this transaction wrote just before are visible */
	CommandCounterIncrement();
	cs->rel = table_open(cs->tables->change, AccessShareLock);
	cs->index = index_open(cs->tables->change_index, AccessShareLock);
	cs->snapshot = RegisterSnapshot(GetLatestSnapshot());
	/* the index is on (step, seq), or (scope_id, step, seq) */
	if (cs->tables->distributed)
		ScanKeyInit(&key[nkeys++], 1, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(id));
	ScanKeyInit(&key[nkeys], nkeys + 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(step));
	nkeys++;
	cs->scan = systable_beginscan_ordered(cs->rel, cs->index, cs->snapshot,
										  nkeys, key);
	cs->direction = backward ? BackwardScanDirection : ForwardScanDirection;
	cs->cxt = CurrentMemoryContext;
	return cs;
}

/*
 * The next chunk, copied into the current memory context; false at the end.
 */
static bool
next_chunk(UndoRedoChunkScan *cs, HistoryChunk *chunk)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(cs->cxt);
	HeapTuple	tuple = systable_getnext_ordered(cs->scan, cs->direction);
	TupleDesc	desc = RelationGetDescr(cs->rel);
	bool		isnull;
	Datum		d;

	MemoryContextSwitchTo(oldcxt);
	if (!HeapTupleIsValid(tuple))
		return false;
	chunk->nchanges = DatumGetInt32(heap_getattr(tuple,
												 attnameAttNum(cs->rel, "nchanges", false),
												 desc, &isnull));
	chunk->relids = DatumGetArrayTypePCopy(heap_getattr(tuple,
														attnameAttNum(cs->rel, "relids", false),
														desc, &isnull));
	if (cs->tables->distributed)
		chunk->relids = local_relids(cs->tables, chunk->relids);
	chunk->changes = DatumGetByteaPCopy(heap_getattr(tuple,
													 attnameAttNum(cs->rel, "changes", false),
													 desc, &isnull));
	/* the type dictionary: null in chunks recorded before 1.1.1 */
	d = heap_getattr(tuple, attnameAttNum(cs->rel, "typoids", false), desc, &isnull);
	chunk->typoids = isnull ? NULL : DatumGetArrayTypePCopy(d);
	d = heap_getattr(tuple, attnameAttNum(cs->rel, "types", false), desc, &isnull);
	chunk->types = isnull ? NULL : DatumGetArrayTypePCopy(d);
	if (chunk->types != NULL && cs->tables->distributed)
		chunk->types = types_by_name(chunk->types);
	/* what finds the columns by name: null in chunks recorded before */
	d = heap_getattr(tuple, attnameAttNum(cs->rel, "reloids", false), desc, &isnull);
	chunk->reloids = isnull ? NULL : DatumGetArrayTypePCopy(d);
	d = heap_getattr(tuple, attnameAttNum(cs->rel, "relcolumns", false), desc, &isnull);
	chunk->relcolumns = isnull ? NULL : DatumGetArrayTypePCopy(d);
	d = heap_getattr(tuple, attnameAttNum(cs->rel, "origin", false), desc, &isnull);
	chunk->origin = isnull ? NULL : DatumGetTextPCopy(d);
	return true;
}

static void
end_chunks(UndoRedoChunkScan *cs)
{
	systable_endscan_ordered(cs->scan);
	UnregisterSnapshot(cs->snapshot);
	index_close(cs->index, AccessShareLock);
	table_close(cs->rel, AccessShareLock);
	pfree(cs);
}

/*
 * Reading a step's row changes one at a time, decoded (image.c), in
 * capture order or backwards, with the chunk scan above: each chunk is
 * read and decoded in a memory context of its own, reset for the next, so
 * a step of any size is read in the memory of one chunk.  A change stays
 * valid until the next call; the caller may run anything, SPI included,
 * between two calls.
 */
struct UndoRedoChangeScan
{
	UndoRedoChunkScan *chunks;
	MemoryContext chunk_cxt;
	int64		step;
	bool		backward;
	Change	   *changes;		/* the current chunk's */
	int32		nchanges;
	int32		returned;		/* how many of them were returned */
};

UndoRedoChangeScan *
undoredo_store_begin_changes(int64 scope_id, int64 step, bool backward)
{
	UndoRedoChangeScan *cs = palloc0(sizeof(UndoRedoChangeScan));

	cs->chunks = begin_chunks(scope_id, step, backward);
	cs->chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "undoredo chunk",
										  ALLOCSET_DEFAULT_SIZES);
	cs->step = step;
	cs->backward = backward;
	return cs;
}

/* The next change, or NULL at the end. */
Change *
undoredo_store_next_change(UndoRedoChangeScan *cs)
{
	while (cs->returned == cs->nchanges)
	{
		MemoryContext oldcxt;
		HistoryChunk chunk;
		bool		found;

		MemoryContextReset(cs->chunk_cxt);
		cs->changes = NULL;
		cs->nchanges = cs->returned = 0;
		oldcxt = MemoryContextSwitchTo(cs->chunk_cxt);
		found = next_chunk(cs->chunks, &chunk);
		if (found)
			cs->nchanges = undoredo_read_chunk(&chunk, cs->step, &cs->changes);
		MemoryContextSwitchTo(oldcxt);
		if (!found)
			return NULL;
	}
	cs->returned++;
	return &cs->changes[cs->backward ? cs->nchanges - cs->returned :
						cs->returned - 1];
}

void
undoredo_store_end_changes(UndoRedoChangeScan *cs)
{
	end_chunks(cs->chunks);
	MemoryContextDelete(cs->chunk_cxt);
	pfree(cs);
}

/*-------------------------------------------------------------------------
 * Statements on the history through SPI: what undo, redo and the history
 * functions read and change, and the rare statements of capture (a step
 * that discards redo history or prunes old steps, a scope claimed or given
 * a new table).  Each statement has a purpose number; statement_sql() is
 * the one place its text is written, built only when plans.c has no plan
 * for it yet.  Each function below connects to SPI itself, runs its
 * statement as the extension owner and copies what it returns into the
 * caller's memory context.
 *-------------------------------------------------------------------------
 */
typedef enum HistoryStatement
{
	HS_STEP_STATES = 1,			/* $1 scope: "step state,..." */
	HS_COUNTS,					/* $1 scope: undoable and redoable steps */
	HS_DISCARD_UNDO,			/* $1 scope: forget its undoable steps */
	HS_DISCARD_REDO,			/* $1 scope: forget its redoable steps */
	HS_PRUNE,					/* $1 scope, $2 keep: forget older steps */
	HS_SCOPE_TABLES,			/* $1 type, $2 id: scope_id, relids */
	HS_REFERS_TO,				/* $1 scope, $2 table: a chunk names it? */
	HS_CLAIM,					/* $1 scope, $2 role: owner */
	HS_ADD_TABLE,				/* $1 scope, $2 table */
	HS_CLEAR_SCOPE,				/* $1 scope: no owner, no tables */
	HS_HISTORY,					/* $1 scope: its steps, oldest first */
	HS_TO_REDO,					/* $1 step, $2 scope: undone */
	HS_TO_UNDO,					/* $1 step, $2 scope: redone */
	HS_NEXT_UNDO,				/* $1 scope, $2 bound: newest undoable */
	HS_NEXT_REDO,				/* $1 scope, $2 bound: last undone */
	HS_COUNTS_ACTOR,			/* $1 scope, $2 actor: the actor's counts */
	HS_DISCARD_REDO_ACTOR,		/* $1 scope, $2 actor: forget its redoable */
	HS_NEXT_UNDO_ACTOR,			/* $1 scope, $2 bound, $3 actor */
	HS_NEXT_REDO_ACTOR,			/* $1 scope, $2 bound, $3 actor */
	HS_LAST_UNDONE,				/* $1 scope: highest undone */
	HS_STEP_INFO,				/* $1 scope, $2 step: undoable?, label */
	HS_LATER_STEPS				/* $1 scope, $2 step: undoable ones after */
} HistoryStatement;

typedef struct StatementArg
{
	HistoryStatement which;
	const HistoryTables *t;
} StatementArg;

/*
 * The text of a statement on a scope's tables.  In a distributed history
 * a step id is one scope's (undoredo_change has scope_id), and tables and
 * owners are kept as ids and names.
 */
static char *
statement_sql(void *arg)
{
	HistoryStatement which = ((StatementArg *) arg)->which;
	const HistoryTables *t = ((StatementArg *) arg)->t;
	const char *scope = t->qnames[HT_SCOPE];
	const char *undo = t->qnames[HT_UNDO];
	const char *redo = t->qnames[HT_REDO];
	const char *change = t->qnames[HT_CHANGE];
	/* a step's chunks: in a distributed history, of the scope $1 */
	const char *its = t->distributed ? " AND c.scope_id OPERATOR(pg_catalog.=) $1" : "";

	switch (which)
	{
		case HS_STEP_STATES:
			return psprintf("SELECT pg_catalog.string_agg(s.step::pg_catalog.text"
							" OPERATOR(pg_catalog.||) s.state, ',' ORDER BY s.step)"
							" FROM (SELECT step, 'u' AS state FROM %s"
							"       WHERE scope_id OPERATOR(pg_catalog.=) $1"
							"       UNION ALL SELECT step, 'r' FROM %s"
							"       WHERE scope_id OPERATOR(pg_catalog.=) $1) s",
							undo, redo);
		case HS_COUNTS:
			return psprintf("SELECT"
							" (SELECT pg_catalog.count(*) FROM %s"
							"  WHERE scope_id OPERATOR(pg_catalog.=) $1)::pg_catalog.int4,"
							" (SELECT pg_catalog.count(*) FROM %s"
							"  WHERE scope_id OPERATOR(pg_catalog.=) $1)::pg_catalog.int4",
							undo, redo);
		case HS_DISCARD_UNDO:
		case HS_DISCARD_REDO:
			return psprintf("WITH gone AS (DELETE FROM %s"
							" WHERE scope_id OPERATOR(pg_catalog.=) $1 RETURNING step)"
							" DELETE FROM %s c USING gone"
							" WHERE c.step OPERATOR(pg_catalog.=) gone.step%s",
							which == HS_DISCARD_UNDO ? undo : redo, change, its);
		case HS_PRUNE:
			/*
			 * The newest $2 undoable steps are kept; older ones go, and so
			 * do steps to redo older than the oldest kept (another actor's
			 * undone steps that fell out of the window).
			 */
			return psprintf("WITH old AS (SELECT step FROM %s"
							"  WHERE scope_id OPERATOR(pg_catalog.=) $1"
							"  ORDER BY step DESC OFFSET $2),"
							" kept AS (SELECT pg_catalog.min(step) AS step FROM"
							"  (SELECT step FROM %s"
							"   WHERE scope_id OPERATOR(pg_catalog.=) $1"
							"   ORDER BY step DESC LIMIT $2) k),"
							" gone_undo AS (DELETE FROM %s a USING old"
							"  WHERE a.scope_id OPERATOR(pg_catalog.=) $1"
							"  AND a.step OPERATOR(pg_catalog.=) old.step RETURNING a.step),"
							" gone_redo AS (DELETE FROM %s r USING kept"
							"  WHERE r.scope_id OPERATOR(pg_catalog.=) $1"
							"  AND EXISTS (SELECT FROM old)"
							"  AND r.step OPERATOR(pg_catalog.<) kept.step RETURNING r.step)"
							" DELETE FROM %s c"
							" WHERE c.step OPERATOR(pg_catalog.=) ANY"
							" (ARRAY(SELECT step FROM gone_undo UNION ALL"
							"        SELECT step FROM gone_redo))%s",
							undo, undo, undo, redo, change, its);
		case HS_SCOPE_TABLES:
			if (t->distributed)
				return psprintf("SELECT scope_id, relids FROM %s"
								" WHERE scope_id OPERATOR(pg_catalog.=) $2::pg_catalog.int8"
								" AND object_type OPERATOR(pg_catalog.=) $1",
								scope);
			return psprintf("SELECT scope_id, relids::pg_catalog.oid[]"
							" FROM %s"
							" WHERE object_type OPERATOR(pg_catalog.=) $1"
							" AND object_id OPERATOR(pg_catalog.=) $2",
							scope);
		case HS_REFERS_TO:
			return psprintf("SELECT EXISTS (SELECT FROM"
							" (SELECT step FROM %s"
							"  WHERE scope_id OPERATOR(pg_catalog.=) $1"
							"  UNION ALL SELECT step FROM %s"
							"  WHERE scope_id OPERATOR(pg_catalog.=) $1) a"
							" JOIN %s c"
							" ON c.step OPERATOR(pg_catalog.=) a.step%s"
							" WHERE $2 OPERATOR(pg_catalog.=) ANY"
							" (c.relids::pg_catalog.oid[]))",
							undo, redo, change, its);
		case HS_CLAIM:
			/* the owner: a role's oid, or its name in a distributed history */
			if (t->distributed)
				return psprintf("WITH claimed AS (UPDATE %s SET owner = $2"
								"  WHERE scope_id OPERATOR(pg_catalog.=) $1 AND owner IS NULL"
								"  RETURNING owner)"
								" SELECT owner FROM claimed"
								" UNION ALL SELECT owner FROM %s"
								"  WHERE scope_id OPERATOR(pg_catalog.=) $1 AND owner IS NOT NULL",
								scope, scope);
			return psprintf("WITH claimed AS (UPDATE %s SET owner = $2"
							"  WHERE scope_id OPERATOR(pg_catalog.=) $1 AND owner IS NULL"
							"  RETURNING owner)"
							" SELECT owner::pg_catalog.oid FROM claimed"
							" UNION ALL SELECT owner::pg_catalog.oid FROM %s"
							"  WHERE scope_id OPERATOR(pg_catalog.=) $1 AND owner IS NOT NULL",
							scope, scope);
		case HS_ADD_TABLE:
			return psprintf("UPDATE %s"
							" SET relids = relids OPERATOR(pg_catalog.||) $2"
							" WHERE scope_id OPERATOR(pg_catalog.=) $1"
							" AND NOT ($2 OPERATOR(pg_catalog.=) ANY (relids))",
							scope);
		case HS_CLEAR_SCOPE:
			return psprintf("UPDATE %s"
							" SET owner = NULL, relids = '{}'"
							" WHERE scope_id OPERATOR(pg_catalog.=) $1",
							scope);
		case HS_HISTORY:
			return psprintf("SELECT a.step, a.undoable, a.label, a.created_at,"
							" (SELECT COALESCE(pg_catalog.sum(c.nchanges), 0)"
							"  FROM %s c"
							"  WHERE c.step OPERATOR(pg_catalog.=) a.step%s)::pg_catalog.int8,"
							" a.actor, a.reverts"
							" FROM (SELECT step, true AS undoable, label, created_at,"
							"       actor, reverts"
							"       FROM %s WHERE scope_id OPERATOR(pg_catalog.=) $1"
							"       UNION ALL"
							"       SELECT step, false, label, created_at, actor, reverts"
							"       FROM %s WHERE scope_id OPERATOR(pg_catalog.=) $1) a"
							" ORDER BY a.step",
							change, its, undo, redo);
		case HS_TO_REDO:
			return psprintf("WITH m AS (DELETE FROM %s"
							" WHERE scope_id OPERATOR(pg_catalog.=) $2"
							" AND step OPERATOR(pg_catalog.=) $1"
							" RETURNING step, scope_id, label, created_at, actor, reverts)"
							" INSERT INTO %s (step, scope_id, label, created_at,"
							" actor, reverts, undone)"
							" SELECT step, scope_id, label, created_at, actor, reverts, $3"
							" FROM m",
							undo, redo);
		case HS_TO_UNDO:
			return psprintf("WITH m AS (DELETE FROM %s"
							" WHERE scope_id OPERATOR(pg_catalog.=) $2"
							" AND step OPERATOR(pg_catalog.=) $1"
							" RETURNING step, scope_id, label, created_at, actor, reverts)"
							" INSERT INTO %s (step, scope_id, label, created_at,"
							" actor, reverts)"
							" SELECT step, scope_id, label, created_at, actor, reverts FROM m",
							redo, undo);
		case HS_NEXT_UNDO:
			return psprintf("SELECT step, step FROM %s"
							" WHERE scope_id OPERATOR(pg_catalog.=) $1"
							" AND step OPERATOR(pg_catalog.<) $2"
							" ORDER BY step DESC LIMIT 1",
							undo);
		case HS_NEXT_REDO:
			return psprintf("SELECT step, undone FROM %s"
							" WHERE scope_id OPERATOR(pg_catalog.=) $1"
							" AND undone OPERATOR(pg_catalog.<) $2"
							" ORDER BY undone DESC LIMIT 1",
							redo);
		case HS_COUNTS_ACTOR:
			return psprintf("SELECT"
							" (SELECT pg_catalog.count(*) FROM %s"
							"  WHERE scope_id OPERATOR(pg_catalog.=) $1"
							"  AND (actor OPERATOR(pg_catalog.=) $2 OR (actor IS NULL AND $2 OPERATOR(pg_catalog.=) '')))::pg_catalog.int4,"
							" (SELECT pg_catalog.count(*) FROM %s"
							"  WHERE scope_id OPERATOR(pg_catalog.=) $1"
							"  AND (actor OPERATOR(pg_catalog.=) $2 OR (actor IS NULL AND $2 OPERATOR(pg_catalog.=) '')))::pg_catalog.int4",
							undo, redo);
		case HS_DISCARD_REDO_ACTOR:
			return psprintf("WITH gone AS (DELETE FROM %s"
							" WHERE scope_id OPERATOR(pg_catalog.=) $1"
							" AND (actor OPERATOR(pg_catalog.=) $2 OR (actor IS NULL AND $2 IS NULL))"
							" RETURNING step)"
							" DELETE FROM %s c USING gone"
							" WHERE c.step OPERATOR(pg_catalog.=) gone.step%s",
							redo, change, its);
		case HS_NEXT_UNDO_ACTOR:
			return psprintf("SELECT step, step FROM %s"
							" WHERE scope_id OPERATOR(pg_catalog.=) $1"
							" AND step OPERATOR(pg_catalog.<) $2"
							" AND (actor OPERATOR(pg_catalog.=) $3 OR (actor IS NULL AND $3 OPERATOR(pg_catalog.=) ''))"
							" ORDER BY step DESC LIMIT 1",
							undo);
		case HS_NEXT_REDO_ACTOR:
			return psprintf("SELECT step, undone FROM %s"
							" WHERE scope_id OPERATOR(pg_catalog.=) $1"
							" AND undone OPERATOR(pg_catalog.<) $2"
							" AND (actor OPERATOR(pg_catalog.=) $3 OR (actor IS NULL AND $3 OPERATOR(pg_catalog.=) ''))"
							" ORDER BY undone DESC LIMIT 1",
							redo);
		case HS_LAST_UNDONE:
			return psprintf("SELECT undone FROM %s"
							" WHERE scope_id OPERATOR(pg_catalog.=) $1"
							" ORDER BY undone DESC LIMIT 1",
							redo);
		case HS_STEP_INFO:
			return psprintf("SELECT true, label FROM %s"
							" WHERE scope_id OPERATOR(pg_catalog.=) $1"
							" AND step OPERATOR(pg_catalog.=) $2"
							" UNION ALL SELECT false, label FROM %s"
							" WHERE scope_id OPERATOR(pg_catalog.=) $1"
							" AND step OPERATOR(pg_catalog.=) $2",
							undo, redo);
		case HS_LATER_STEPS:
			return psprintf("SELECT step FROM %s"
							" WHERE scope_id OPERATOR(pg_catalog.=) $1"
							" AND step OPERATOR(pg_catalog.>) $2"
							" ORDER BY step",
							undo);
	}
	elog(ERROR, "undoredo: unknown history statement %d", (int) which);
	return NULL;				/* keep the compiler quiet */
}

/*
 * Run a statement on the history as the extension owner, connected to SPI
 * (the caller finishes), with the given snapshot (InvalidSnapshot: the
 * transaction's).  Its plan is kept by purpose, prepared in the user
 * context it runs in.  Three arguments at most: $1 (to $3) of argtypes;
 * nulls as SPI_execute_plan takes them (NULL: none is null).
 */
static void
run3(HistoryStatement which, const HistoryTables *t,
	 Oid type1, Datum arg1, Oid type2, Datum arg2,
	 Oid type3, Datum arg3, const char *nulls,
	 Snapshot snapshot, bool read_only, long count)
{
	Oid			argtypes[3];
	Datum		values[3];
	int			nargs = OidIsValid(type3) ? 3 : OidIsValid(type2) ? 2 : 1;
	StatementArg arg = {which, t};
	UserContext saved;
	int			rc;

	argtypes[0] = type1;
	argtypes[1] = type2;
	argtypes[2] = type3;
	values[0] = arg1;
	values[1] = arg2;
	values[2] = arg3;
	undoredo_spi_connect();
	undoredo_become_owner(&saved);
	if (t->distributed)
	{
		/* a shard's statement: kept by the shard and the statement's text */
		rc = undoredo_execute_plan(undoredo_plan(t->scope, statement_sql(&arg),
												 nargs, argtypes),
								   values, nulls, snapshot, read_only, count);
	}
	else
		rc = undoredo_execute_plan(undoredo_plan_for((uint32) which, statement_sql,
													 &arg, nargs, argtypes),
								   values, nulls, snapshot, read_only, count);
	undoredo_restore_user(&saved);
	if (rc < 0)
		elog(ERROR, "undoredo: history statement %d failed: %s",
			 (int) which, SPI_result_code_string(rc));
}

static void
run(HistoryStatement which, const HistoryTables *t,
	Oid type1, Datum arg1, Oid type2, Datum arg2,
	Snapshot snapshot, bool read_only, long count)
{
	run3(which, t, type1, arg1, type2, arg2, InvalidOid, 0, NULL,
		 snapshot, read_only, count);
}

static Datum
result(uint64 row, int column, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 column, isnull);
}

/* The first column of the first row as int64, or 0 when there is none. */
static int64
result_int64(void)
{
	bool		isnull;

	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(result(0, 1, &isnull));
}

/*
 * Did another transaction change the scope's steps, or whether each can be
 * undone or redone, after this transaction's snapshot was taken?  Compares
 * them as the snapshot sees them and as the latest committed state has
 * them (scope.c, in REPEATABLE READ and SERIALIZABLE).
 */
bool
undoredo_store_newer_than_snapshot(int64 scope_id)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	MemoryContext cxt = CurrentMemoryContext;
	char	   *seen[2];
	int			i;

	for (i = 0; i < 2; i++)
	{
		bool		isnull;
		Datum		d;

		run(HS_STEP_STATES, t, INT8OID, Int64GetDatum(id), InvalidOid, 0,
			i == 0 ? InvalidSnapshot : GetLatestSnapshot(), true, 1);
		d = result(0, 1, &isnull);
		/* out of the SPI connection's memory, which its end frees */
		seen[i] = isnull ? NULL :
			MemoryContextStrdup(cxt, TextDatumGetCString(d));
		undoredo_spi_finish();
	}
	if (seen[0] == NULL || seen[1] == NULL)
		return seen[0] != seen[1];
	return strcmp(seen[0], seen[1]) != 0;
}

/*
 * How many steps of the scope can be undone and redone: of anyone, or of
 * the actor when it is not NULL ('': of the steps recorded without one).
 */
void
undoredo_store_counts(int64 scope_id, const char *actor, int32 *undo_count,
					  int32 *redo_count)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	bool		isnull;

	*undo_count = *redo_count = 0;
	if (scope_id == 0)
		return;
	if (actor != NULL)
		run(HS_COUNTS_ACTOR, t, INT8OID, Int64GetDatum(id),
			TEXTOID, CStringGetTextDatum(actor), InvalidSnapshot, false, 1);
	else
		run(HS_COUNTS, t, INT8OID, Int64GetDatum(id), InvalidOid, 0,
			InvalidSnapshot, false, 1);
	*undo_count = DatumGetInt32(result(0, 1, &isnull));
	*redo_count = DatumGetInt32(result(0, 2, &isnull));
	undoredo_spi_finish();
}

/* Forget all steps of a scope that can be undone, or all that can be redone. */
void
undoredo_store_discard_steps(int64 scope_id, bool undoable)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	run(undoable ? HS_DISCARD_UNDO : HS_DISCARD_REDO, t, INT8OID, Int64GetDatum(id), InvalidOid, 0,
		InvalidSnapshot, false, 0);
	undoredo_spi_finish();
}

/*
 * Forget the steps to redo of one actor (NULL: those of no actor), as a
 * new step of that actor does.
 */
void
undoredo_store_discard_redo(int64 scope_id, const char *actor)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	run3(HS_DISCARD_REDO_ACTOR, t, INT8OID, Int64GetDatum(id),
		 TEXTOID, actor != NULL ? CStringGetTextDatum(actor) : (Datum) 0,
		 InvalidOid, 0, actor != NULL ? NULL : " n",
		 InvalidSnapshot, false, 0);
	undoredo_spi_finish();
}

/*
 * Forget the oldest undoable steps of a scope beyond the newest keep, and
 * the steps to redo older than the oldest kept.
 */
void
undoredo_store_prune(int64 scope_id, int32 keep)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	run(HS_PRUNE, t, INT8OID, Int64GetDatum(id), INT4OID, Int32GetDatum(keep),
		InvalidSnapshot, false, 0);
	undoredo_spi_finish();
}

/*
 * The scope's id (0: it has no row) and the set of tables its row lists,
 * read with the latest snapshot when latest (as last committed, without
 * the scope lock), else with the transaction's.
 */
int64
undoredo_store_scope_tables(const char *object_type, const char *object_id,
							bool latest, int *ntables, Oid **tables)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		isnull;
	int64		scope_id;
	int64		handle = 0;
	HistoryTables *t = own_tables();
	ArrayType  *relids = NULL;
	Datum		d;

	*ntables = 0;
	*tables = NULL;
	if (registered(object_type))
	{
		handle = distributed_scope(object_type, object_id);
		t = tables_of(handle, &scope_id);
	}
	run(HS_SCOPE_TABLES, t, TEXTOID, CStringGetTextDatum(object_type),
		TEXTOID, CStringGetTextDatum(object_id),
		latest ? GetLatestSnapshot() : InvalidSnapshot, false, 1);
	scope_id = result_int64();
	if (SPI_processed > 0)
	{
		d = result(0, 2, &isnull);
		if (!isnull)
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(cxt);

			relids = DatumGetArrayTypePCopy(d);
			MemoryContextSwitchTo(oldcxt);
		}
		if (t->distributed)
			scope_id = handle;
	}
	undoredo_spi_finish();
	/* after the statement: table ids are resolved with queries of their own */
	if (relids != NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(cxt);

		*tables = local_tables_of(t, relids, ntables);
		MemoryContextSwitchTo(oldcxt);
	}
	return scope_id;
}

/* Does a written chunk of a step of the scope refer to the table? */
bool
undoredo_store_refers_to(int64 scope_id, Oid relid)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	bool		isnull;
	bool		found;

	run(HS_REFERS_TO, t, INT8OID, Int64GetDatum(id), OIDOID,
		ObjectIdGetDatum(t->distributed ? table_id(t, relid) : relid),
		GetLatestSnapshot(), false, 0);
	found = DatumGetBool(result(0, 1, &isnull));
	undoredo_spi_finish();
	return found;
}

/*
 * The scope has no owner: make the writer its owner, unless another
 * transaction did first.  Returns the owner.  Called with the scope lock.
 */
Oid
undoredo_store_claim(int64 scope_id, Oid writer)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	bool		isnull;
	Oid			owner;

	if (t->distributed)
		run(HS_CLAIM, t, INT8OID, Int64GetDatum(id),
			TEXTOID, role_name(writer), GetLatestSnapshot(), false, 0);
	else
		run(HS_CLAIM, t, INT8OID, Int64GetDatum(id),
			REGROLEOID, ObjectIdGetDatum(writer), GetLatestSnapshot(), false, 0);
	if (SPI_processed != 1)
		elog(ERROR, "undoredo: scope row " INT64_FORMAT " is missing", id);
	owner = t->distributed ? role_of(result(0, 1, &isnull)) :
		DatumGetObjectId(result(0, 1, &isnull));
	undoredo_spi_finish();
	return owner;
}

/* Add a table to the scope's set.  Called with the scope lock. */
void
undoredo_store_add_table(int64 scope_id, Oid relid)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);

	if (t->distributed)
		run(HS_ADD_TABLE, t, INT8OID, Int64GetDatum(id),
			OIDOID, ObjectIdGetDatum(table_id(t, relid)), GetLatestSnapshot(), false, 0);
	else
		run(HS_ADD_TABLE, t, INT8OID, Int64GetDatum(id),
			REGCLASSOID, ObjectIdGetDatum(relid), GetLatestSnapshot(), false, 0);
	undoredo_spi_finish();
}

/*
 * The scope's history was emptied: it has no owner and no tables any more,
 * in every backend (the cache of scope rows is invalidated).
 */
void
undoredo_store_clear_scope(int64 scope_id)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);

	run(HS_CLEAR_SCOPE, t, INT8OID, Int64GetDatum(id), InvalidOid, 0,
		GetLatestSnapshot(), false, 0);
	undoredo_spi_finish();
	/* a distributed scope's row is not kept across transactions */
	if (!t->distributed)
		CacheInvalidateRelcacheByRelid(undoredo_history_relid("undoredo_scope"));
}

/*
 * The scope's steps, oldest first, with how many changes each recorded
 * (undoredo_history), in the caller's memory context.
 */
HistoryStep *
undoredo_store_history(int64 scope_id, int *nsteps)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	MemoryContext cxt = CurrentMemoryContext;
	HistoryStep *steps;
	uint64		i;

	run(HS_HISTORY, t, INT8OID, Int64GetDatum(id), InvalidOid, 0,
		InvalidSnapshot, false, 0);
	*nsteps = (int) SPI_processed;
	steps = MemoryContextAlloc(cxt, sizeof(HistoryStep) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d;

		steps[i].step = DatumGetInt64(result(i, 1, &isnull));
		steps[i].undoable = DatumGetBool(result(i, 2, &isnull));
		d = result(i, 3, &isnull);
		steps[i].label = isnull ? NULL :
			MemoryContextStrdup(cxt, TextDatumGetCString(d));
		steps[i].created_at = DatumGetTimestampTz(result(i, 4, &isnull));
		steps[i].changes = DatumGetInt64(result(i, 5, &isnull));
		d = result(i, 6, &isnull);
		steps[i].actor = isnull ? NULL :
			MemoryContextStrdup(cxt, TextDatumGetCString(d));
		d = result(i, 7, &isnull);
		steps[i].reverts = isnull ? 0 : DatumGetInt64(d);
	}
	undoredo_spi_finish();
	return steps;
}

/*
 * Move a step from undo_action to redo_action (undo: undone orders it
 * among the steps to redo) or back (redo).
 */
void
undoredo_store_move_step(bool undo, int64 scope_id, int64 step, int64 undone)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	run3(undo ? HS_TO_REDO : HS_TO_UNDO, t, INT8OID, Int64GetDatum(step),
		 INT8OID, Int64GetDatum(id),
		 undo ? INT8OID : InvalidOid, Int64GetDatum(undone), NULL,
		 InvalidSnapshot, false, 0);
	undoredo_spi_finish();
}

/*
 * The highest undone of the scope's steps to redo (0 when it has none):
 * an undo numbers the steps it moves above it.
 */
int64
undoredo_store_last_undone(int64 scope_id)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	int64		undone;

	run(HS_LAST_UNDONE, t, INT8OID, Int64GetDatum(id), InvalidOid, 0,
		InvalidSnapshot, false, 1);
	undone = Max(result_int64(), 0);
	undoredo_spi_finish();
	return undone;
}

/*
 * The scope's newest undoable step below the bound "from" (a step id), or
 * its most recently undone step below it (an undone number), of anyone or
 * of the actor when it is not NULL; 0 if there is none.  *order is the
 * step's own bound for the next call.  The bound lets the index scan start
 * past the steps this call already moved, whose entries stay in the index
 * until the transaction ends: without it, every lookup would walk over all
 * of them.
 */
int64
undoredo_store_next_step(bool undo, int64 scope_id, const char *actor,
						 int64 from, int64 *order)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	int64		step = 0;
	bool		isnull;

	if (actor != NULL)
		run3(undo ? HS_NEXT_UNDO_ACTOR : HS_NEXT_REDO_ACTOR, t, INT8OID, Int64GetDatum(id), INT8OID, Int64GetDatum(from),
			 TEXTOID, CStringGetTextDatum(actor), NULL,
			 InvalidSnapshot, false, 1);
	else
		run(undo ? HS_NEXT_UNDO : HS_NEXT_REDO, t, INT8OID, Int64GetDatum(id),
			INT8OID, Int64GetDatum(from), InvalidSnapshot, false, 1);
	if (SPI_processed > 0)
	{
		step = DatumGetInt64(result(0, 1, &isnull));
		*order = DatumGetInt64(result(0, 2, &isnull));
	}
	undoredo_spi_finish();
	return step;
}

/*
 * Is the step in the scope's history, and can it be undone?  Its label
 * (NULL: none) in the caller's memory context.
 */
bool
undoredo_store_step_info(int64 scope_id, int64 step, bool *undoable,
						 char **label)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	MemoryContext cxt = CurrentMemoryContext;
	bool		found = false;
	bool		isnull;

	run(HS_STEP_INFO, t, INT8OID, Int64GetDatum(id), INT8OID,
		Int64GetDatum(step), InvalidSnapshot, false, 1);
	if (SPI_processed > 0)
	{
		Datum		d;

		found = true;
		*undoable = DatumGetBool(result(0, 1, &isnull));
		d = result(0, 2, &isnull);
		*label = isnull ? NULL : MemoryContextStrdup(cxt, TextDatumGetCString(d));
	}
	undoredo_spi_finish();
	return found;
}

/*
 * The scope's undoable steps after the step, oldest first, in the
 * caller's memory context (for naming the step that changed a row later).
 */
int64 *
undoredo_store_later_steps(int64 scope_id, int64 step, int *nsteps)
{
	int64		id;
	HistoryTables *t = tables_of(scope_id, &id);
	MemoryContext cxt = CurrentMemoryContext;
	int64	   *steps;
	uint64		i;

	run(HS_LATER_STEPS, t, INT8OID, Int64GetDatum(id), INT8OID,
		Int64GetDatum(step), InvalidSnapshot, false, 0);
	*nsteps = (int) SPI_processed;
	steps = MemoryContextAlloc(cxt, sizeof(int64) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		steps[i] = DatumGetInt64(result(i, 1, &isnull));
	}
	undoredo_spi_finish();
	return steps;
}
