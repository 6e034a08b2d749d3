/*-------------------------------------------------------------------------
 *
 * store.c
 *	  Direct access to the history tables on the capture path.
 *
 * What a captured transaction writes -- the scope row, the step row and
 * the chunks of row changes -- is inserted with the table AM and its index
 * entries made by hand, without a query: an SPI round trip per row or per
 * transaction would cost more than the write it records.  Rows are formed
 * from the relations' own descriptors by column name, so columns dropped
 * by an upgrade script are simply left null.  No access check happens at
 * this level, so writers need no privilege on the history.
 *
 * Everything here runs under the scope lock (catalog.c), which serializes
 * the writers of one scope: a lookup with the latest snapshot sees the
 * last holder's committed work, and no other writer can race on the rows
 * of the scope.  Reads for undo, redo and the history functions, which are
 * not per row, stay in SQL through SPI.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "commands/sequence.h"
#include "executor/tuptable.h"
#include "parser/parse_relation.h"
#include "storage/bufmgr.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/syscache.h"
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

/* Make the index entries of a heap tuple (plain column indexes only). */
static void
insert_index_entries(Relation rel, HeapTuple tuple)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Relation	irel = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo  *info = BuildIndexInfo(irel);
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];
		int			i;

		if (info->ii_Expressions != NIL || info->ii_Predicate != NIL)
			elog(ERROR, "undoredo: index \"%s\" of a history table is not a plain column index",
				 RelationGetRelationName(irel));
		for (i = 0; i < info->ii_NumIndexAttrs; i++)
			values[i] = heap_getattr(tuple, info->ii_IndexAttrNumbers[i],
									 RelationGetDescr(rel), &isnull[i]);
		index_insert(irel, values, isnull, &tuple->t_self, rel,
					 irel->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
					 false, info);
		index_close(irel, RowExclusiveLock);
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
 * Scope ids of committed scope rows, kept across transactions.  The rows
 * never change once made, so only another undoredo_scope (DROP and CREATE
 * EXTENSION, TRUNCATE: another relfilenode) makes the entries stale.
 */
typedef struct ScopeIdEntry
{
	uint64		hash;			/* key: hash of the scope's name */
	char	   *scope;
	int64		scope_id;
} ScopeIdEntry;

static HTAB *scope_ids = NULL;
static Oid	scope_ids_filenode = InvalidOid;

static uint64
scope_hash(const char *scope)
{
	return hash_bytes_extended((const unsigned char *) scope, strlen(scope), 0);
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
	if (scope_ids == NULL || filenode != scope_ids_filenode)
	{
		HASHCTL		ctl;

		if (scope_ids != NULL)
			hash_destroy(scope_ids);
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(ScopeIdEntry);
		scope_ids = hash_create("undoredo scope ids", 64, &ctl,
								HASH_ELEM | HASH_BLOBS);
		scope_ids_filenode = filenode;
	}
}

/* At commit: the scope rows this transaction used are committed now. */
void
undoredo_store_remember_scope(const char *scope, int64 scope_id)
{
	uint64		hash = scope_hash(scope);
	ScopeIdEntry *entry;
	bool		found;

	if (scope_ids == NULL)
		return;
	entry = hash_search(scope_ids, &hash, HASH_ENTER, &found);
	if (found)
		pfree(entry->scope);
	entry->scope = MemoryContextStrdup(TopMemoryContext, scope);
	entry->scope_id = scope_id;
}

/*
 * The scope's id, its row made if missing.  Called with the scope lock
 * held.
 */
int64
undoredo_store_scope(const char *scope)
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
	static const char *const names[] = {"scope_id", "object_type", "object_id"};
	Datum		values[3];
	bool		isnull;

	check_scope_ids();
	entry = hash_search(scope_ids, &hash, HASH_FIND, NULL);
	if (entry != NULL && strcmp(entry->scope, scope) == 0)
		return entry->scope_id;

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
		scope_id = DatumGetInt64(heap_getattr(tuple,
											  attnameAttNum(rel, "scope_id", false),
											  RelationGetDescr(rel), &isnull));
	else
	{
		scope_id = nextval_internal(undoredo_history_relid("undoredo_scope_seq"), false);
		values[0] = Int64GetDatum(scope_id);
		insert_row(rel, form_row(rel, 3, names, values, NULL));
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, RowExclusiveLock);
	return scope_id;
}

/* Does the scope have steps to redo?  Called with the scope lock held. */
bool
undoredo_store_has_redo(int64 scope_id)
{
	Relation	rel = table_open(undoredo_history_relid("redo_action"), AccessShareLock);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	ScanKeyData key;
	SysScanDesc scan;
	bool		found;

	ScanKeyInit(&key, attnameAttNum(rel, "scope_id", false),
				BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(scope_id));
	scan = systable_beginscan(rel, undoredo_history_relid("redo_action_scope_idx"), true,
							  snapshot, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

/* Insert a new undoable step of the scope; returns its id. */
int64
undoredo_store_step(int64 scope_id, const char *label, TimestampTz created_at)
{
	Relation	rel = table_open(undoredo_history_relid("undo_action"), RowExclusiveLock);
	static const char *const names[] = {"step", "scope_id", "label", "created_at"};
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	int64		step = nextval_internal(undoredo_history_relid("undoredo_step_seq"), false);

	values[0] = Int64GetDatum(step);
	values[1] = Int64GetDatum(scope_id);
	if (label != NULL && label[0] != '\0')
		values[2] = CStringGetTextDatum(label);
	else
		nulls[2] = true;
	values[3] = TimestampTzGetDatum(created_at);
	insert_row(rel, form_row(rel, 4, names, values, nulls));
	table_close(rel, RowExclusiveLock);
	return step;
}

/*
 * Insert a chunk of row changes: count changes numbered from seq, which
 * refer to the tables relids by their position in it.  A regclass[] is
 * dumped by name, so a dump restored elsewhere still finds the tables.
 */
void
undoredo_store_chunk(int64 step, int32 seq, int32 count, int nrelids,
					 const Oid *relids, StringInfo data)
{
	Relation	rel = table_open(undoredo_history_relid("undoredo_change"), RowExclusiveLock);
	static const char *const names[] = {"step", "seq", "nchanges", "relids",
	"changes"};
	Datum		values[5];
	Datum	   *elems = palloc(sizeof(Datum) * Max(nrelids, 1));
	bytea	   *changes = palloc(VARHDRSZ + data->len);
	int			i;

	for (i = 0; i < nrelids; i++)
		elems[i] = ObjectIdGetDatum(relids[i]);

	SET_VARSIZE(changes, VARHDRSZ + data->len);
	memcpy(VARDATA(changes), data->data, data->len);
	values[0] = Int64GetDatum(step);
	values[1] = Int32GetDatum(seq);
	values[2] = Int32GetDatum(count);
	values[3] = PointerGetDatum(construct_array(elems, nrelids, REGCLASSOID,
												sizeof(Oid), true, TYPALIGN_INT));
	values[4] = PointerGetDatum(changes);
	insert_row(rel, form_row(rel, 5, names, values, NULL));
	table_close(rel, RowExclusiveLock);
	pfree(changes);
}
