/*-------------------------------------------------------------------------
 *
 * placement.c
 *	  Where, on a Citus node, the history and the rows of an object of a
 *	  type registered for Citus are: this node's shards of them.
 *
 * In Citus mode (docs/citus.md) the history of a registered object type
 * lives in four tables distributed by the object id and co-located with
 * the type's data (made by undoredo_citus_register, citus.c), so shard
 * moves, rebalances and splits carry each object's history with its rows.
 * A node reads and writes the shards of them that hold the object's id;
 * store.c asks here which they are.  Only the node that holds them may:
 * a placement on another node (a shard moved away and not yet cleaned up
 * included) is not this node's.
 *
 * A tracked distributed table is named in such a history by a table id,
 * not by an oid, which is per node: the coordinator's oid of the table
 * when undoredo_track made its capture trigger, given to that trigger as
 * its argument.  Citus copies the trigger, argument included, to the
 * table's copy on every node and to every shard (made later by moves and
 * splits too), so capture reads the id from the trigger that fires, and
 * replay finds the table again by it wherever the shard has gone.  A
 * table dropped takes its id along: a step naming it finds no table, as
 * a step naming a dropped table's oid does.
 *
 * Each lookup is one query on Citus's metadata, whose answer is kept across
 * transactions (below).  Nothing here is reached on a server without
 * Citus.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "commands/extension.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "undoredo.h"

/*
 * Is Citus loaded and installed in this database?  Citus is always
 * preloaded where it is installed, so its setting exists exactly there: a
 * server without Citus answers with a setting lookup, reading no catalog;
 * one with it reads pg_extension once per transaction.
 */
static int	citus_installed = -1;	/* this transaction's answer, or -1 */

static void
forget_citus_installed(void *arg pg_attribute_unused())
{
	citus_installed = -1;
}

bool
undoredo_citus_loaded(void)
{
	if (GetConfigOption("citus.propagate_set_commands", true, false) == NULL)
		return false;
	/* read once per transaction: capture asks for each statement */
	if (!IsTransactionState())
		return OidIsValid(get_extension_oid("citus", true));
	if (citus_installed < 0)
	{
		MemoryContextCallback *cb = MemoryContextAlloc(TopTransactionContext,
													   sizeof(MemoryContextCallback));

		cb->func = forget_citus_installed;
		cb->arg = NULL;
		MemoryContextRegisterResetCallback(TopTransactionContext, cb);
		citus_installed = OidIsValid(get_extension_oid("citus", true)) ? 1 : 0;
	}
	return citus_installed == 1;
}

/*
 * Shards found, kept across transactions, by what was asked: the history
 * tables' first table or a table id, and the object id.  Citus invalidates
 * the relcache entry of a distributed table whenever a placement of one of
 * its shards is added, moved or removed, on every node (the trigger on
 * pg_dist_placement and its metadata functions call
 * CitusInvalidateRelcacheByShardId), and a shard dropped invalidates its
 * own: the cache is forgotten whole on an invalidation of any table or
 * shard it holds, or of every relation.  A shard moved away is thus never
 * found here again, even while its orphaned relation waits to be dropped.
 * Emptied when full.
 */
#define SHARD_CACHE_SIZE 1024

typedef struct ShardKey
{
	char		kind;			/* 'h' history tables, 't' a table id */
	Oid			table;
	int64		key;
} ShardKey;

typedef struct ShardEntry
{
	ShardKey	key;
	Oid			shards[4];
} ShardEntry;

static HTAB *shard_cache = NULL;
static HTAB *shard_cache_relids = NULL;	/* what invalidates it */
static bool shard_cache_stale = false;
static bool shard_cache_callback = false;

static void
forget_shards(Datum arg pg_attribute_unused(), Oid relid)
{
	if (shard_cache_relids != NULL &&
		(relid == InvalidOid ||
		 hash_search(shard_cache_relids, &relid, HASH_FIND, NULL) != NULL))
		shard_cache_stale = true;
}

/* The cache, made afresh when stale or full. */
static HTAB *
shards_cached(void)
{
	if (!shard_cache_callback)
	{
		undoredo_on_relcache_change(forget_shards);
		shard_cache_callback = true;
	}
	if (shard_cache != NULL &&
		(shard_cache_stale || hash_get_num_entries(shard_cache) >= SHARD_CACHE_SIZE))
	{
		hash_destroy(shard_cache);
		hash_destroy(shard_cache_relids);
		shard_cache = shard_cache_relids = NULL;
	}
	if (shard_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(ShardKey);
		ctl.entrysize = sizeof(ShardEntry);
		shard_cache = hash_create("undoredo shards", 64, &ctl, HASH_ELEM | HASH_BLOBS);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(Oid);
		shard_cache_relids = hash_create("undoredo shard relations", 64, &ctl,
										 HASH_ELEM | HASH_BLOBS);
		shard_cache_stale = false;
	}
	return shard_cache;
}

static void
watch(Oid relid)
{
	(void) hash_search(shard_cache_relids, &relid, HASH_ENTER, NULL);
}

/* The entry of what was asked: found (or NULL), or made (HASH_ENTER). */
static ShardEntry *
shard_entry(char kind, Oid table, int64 key, HASHACTION action)
{
	ShardKey	k;

	memset(&k, 0, sizeof(k));
	k.kind = kind;
	k.table = table;
	k.key = key;
	return hash_search(shards_cached(), &k, action, NULL);
}

/*
 * Run one of this file's queries on Citus's metadata, with a kept plan, as
 * the extension's owner: Citus's functions check the caller's privileges
 * on the tables named, and the history tables are the owner's alone.
 */
static void
metadata_query(const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	UserContext saved;
	int			rc;

	undoredo_become_owner(&saved);
	rc = undoredo_execute_plan(undoredo_plan(InvalidOid, sql, nargs, argtypes),
							   values, NULL, InvalidSnapshot, true, 0);
	undoredo_restore_user(&saved);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "undoredo: could not read Citus's metadata");
}

/* The oid of undoredo_capture(), the capture and guard triggers' function. */
static Oid
capture_function(void)
{
	List	   *name = list_make2(makeString(get_namespace_name(undoredo_extension()->schema)),
								  makeString(pstrdup("undoredo_capture")));

	return LookupFuncName(name, 0, NULL, false);
}

/*
 * Can the object type be registered for Citus?  Its name names its history
 * tables: 1 to UNDOREDO_MAX_TYPE_NAME lower-case letters, digits and
 * underscores.
 */
bool
undoredo_placement_type_name_ok(const char *object_type)
{
	const char *c;

	if (strlen(object_type) > UNDOREDO_MAX_TYPE_NAME || object_type[0] == '\0')
		return false;
	for (c = object_type; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	return true;
}

/*
 * The distributed table "undoredo_<object_type>_<part>" of a registered
 * object type in the extension's schema, or InvalidOid when the type is
 * not registered (a name that could not be registered is not).
 */
Oid
undoredo_placement_history_table(const char *object_type, const char *part)
{
	if (!undoredo_placement_type_name_ok(object_type))
		return InvalidOid;
	return get_relname_relid(psprintf("undoredo_%s_%s", object_type, part),
							 undoredo_extension()->schema);
}

/*
 * This node's shards of the distributed tables relids[0 .. n-1], all
 * co-located, that hold the distribution value key, into shards; false
 * when this node holds none of them (then shards is untouched).
 */
bool
undoredo_placement_shards(int n, const Oid *relids, int64 key, Oid *shards)
{
	Oid			argtypes[2] = {OIDARRAYOID, INT8OID};
	Datum		values[2];
	Datum	   *elems = palloc(sizeof(Datum) * n);
	ShardEntry *entry;
	bool		found;
	int			i;

	Assert(n <= 4);
	entry = shard_entry('h', relids[0], key, HASH_FIND);
	if (entry != NULL)
	{
		memcpy(shards, entry->shards, sizeof(Oid) * n);
		return true;
	}
	for (i = 0; i < n; i++)
		elems[i] = ObjectIdGetDatum(relids[i]);
	values[0] = PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid),
												true, TYPALIGN_INT));
	values[1] = Int64GetDatum(key);
	undoredo_spi_connect();
	metadata_query("SELECT pg_catalog.to_regclass(pg_catalog.shard_name(t.rel,"
				   "  s.shardid))::pg_catalog.oid"
				   " FROM pg_catalog.unnest($1) WITH ORDINALITY t(rel, n),"
				   " LATERAL (SELECT pg_catalog.get_shard_id_for_distribution_column("
				   "  t.rel::pg_catalog.regclass, $2) AS shardid) s"
				   " WHERE EXISTS (SELECT FROM pg_catalog.pg_dist_placement p"
				   "  JOIN pg_catalog.pg_dist_local_group g"
				   "  ON g.groupid OPERATOR(pg_catalog.=) p.groupid"
				   "  WHERE p.shardid OPERATOR(pg_catalog.=) s.shardid)"
				   " ORDER BY t.n",
				   2, argtypes, values);
	found = SPI_processed == (uint64) n;
	for (i = 0; found && i < n; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
									  1, &isnull);

		if (isnull)
			found = false;
		else
			shards[i] = DatumGetObjectId(d);
	}
	undoredo_spi_finish();
	if (found)
	{
		entry = shard_entry('h', relids[0], key, HASH_ENTER);
		memcpy(entry->shards, shards, sizeof(Oid) * n);
		for (i = 0; i < n; i++)
		{
			watch(relids[i]);
			watch(shards[i]);
		}
	}
	return found;
}

/*
 * The table id of a tracked table or shard: the argument of its capture
 * trigger; InvalidOid when its capture trigger has none (it was tracked
 * before Citus mode, or before it was distributed).
 */
Oid
undoredo_placement_table_id(Oid relid)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	Oid			capture = capture_function();
	Oid			id = InvalidOid;
	int			i;

	for (i = 0; rel->trigdesc != NULL && i < rel->trigdesc->numtriggers; i++)
	{
		Trigger    *t = &rel->trigdesc->triggers[i];

		if (t->tgfoid == capture && TRIGGER_FOR_ROW(t->tgtype) && t->tgnargs == 1)
			id = atooid(t->tgargs[0]);
	}
	relation_close(rel, AccessShareLock);
	return id;
}

/*
 * This node's shard, holding key, of the distributed table whose capture
 * trigger has table id id; InvalidOid when no table has it any more.  A
 * table whose shard for key is on another node is not found either: it is
 * not co-located with the history that names it.
 */
Oid
undoredo_placement_table_shard(Oid id, int64 key)
{
	Oid			argtypes[3] = {TEXTOID, INT8OID, OIDOID};
	Datum		values[3];
	Oid			shard = InvalidOid;
	Oid			table = InvalidOid;
	ShardEntry *entry = shard_entry('t', id, key, HASH_FIND);

	if (entry != NULL)
		return entry->shards[0];
	values[0] = CStringGetTextDatum(psprintf("%u", id));
	values[1] = Int64GetDatum(key);
	values[2] = ObjectIdGetDatum(capture_function());
	undoredo_spi_connect();
	metadata_query("SELECT pg_catalog.to_regclass(pg_catalog.shard_name("
				   "  p.logicalrelid, s.shardid))::pg_catalog.oid,"
				   " p.logicalrelid::pg_catalog.oid"
				   " FROM pg_catalog.pg_dist_partition p"
				   " JOIN pg_catalog.pg_trigger t"
				   " ON t.tgrelid OPERATOR(pg_catalog.=) p.logicalrelid,"
				   " LATERAL (SELECT pg_catalog.get_shard_id_for_distribution_column("
				   "  p.logicalrelid, $2) AS shardid) s"
				   " WHERE p.partmethod OPERATOR(pg_catalog.=) 'h'"
				   " AND t.tgfoid OPERATOR(pg_catalog.=) $3"
				   " AND t.tgnargs OPERATOR(pg_catalog.=) 1"
				   " AND t.tgargs OPERATOR(pg_catalog.=)"
				   "  (pg_catalog.convert_to($1, 'SQL_ASCII')"
				   "   OPERATOR(pg_catalog.||) pg_catalog.decode('00', 'hex'))"
				   " AND EXISTS (SELECT FROM pg_catalog.pg_dist_placement pl"
				   "  JOIN pg_catalog.pg_dist_local_group g"
				   "  ON g.groupid OPERATOR(pg_catalog.=) pl.groupid"
				   "  WHERE pl.shardid OPERATOR(pg_catalog.=) s.shardid)",
				   3, argtypes, values);
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  1, &isnull);

		if (!isnull)
		{
			shard = DatumGetObjectId(d);
			table = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 2, &isnull));
		}
	}
	undoredo_spi_finish();
	if (OidIsValid(shard))
	{
		entry = shard_entry('t', id, key, HASH_ENTER);
		entry->shards[0] = shard;
		watch(table);
		watch(shard);
	}
	return shard;
}

/*
 * The distributed table whose shard relid is (named "<table>_<shard id>"
 * in the table's schema), as this node knows it; relid itself when it is
 * not a shard: what undoredo_changes names a change's table by, and
 * where capture finds which column a shard is distributed by (citus.c).
 */
Oid
undoredo_placement_logical_table(Oid relid)
{
	char	   *relname = get_rel_name(relid);
	const char *underscore = relname != NULL ? strrchr(relname, '_') : NULL;
	Oid			argtypes[3] = {INT8OID, TEXTOID, OIDOID};
	Datum		values[3];
	Oid			table = relid;
	char	   *end;
	int64		shardid;

	if (underscore == NULL || !undoredo_citus_loaded())
		return relid;
	shardid = strtoi64(underscore + 1, &end, 10);
	if (*end != '\0' || end == underscore + 1 || shardid <= 0)
		return relid;
	values[0] = Int64GetDatum(shardid);
	values[1] = CStringGetTextDatum(relname);
	values[2] = ObjectIdGetDatum(get_rel_namespace(relid));
	undoredo_spi_connect();
	if (SPI_execute_with_args("SELECT s.logicalrelid::pg_catalog.oid"
							  " FROM pg_catalog.pg_dist_shard s"
							  " JOIN pg_catalog.pg_class c"
							  " ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid"
							  " WHERE s.shardid OPERATOR(pg_catalog.=) $1"
							  " AND c.relname::pg_catalog.text OPERATOR(pg_catalog.||) '_'"
							  " OPERATOR(pg_catalog.||) $1::pg_catalog.text"
							  " OPERATOR(pg_catalog.=) $2"
							  " AND c.relnamespace OPERATOR(pg_catalog.=) $3",
							  3, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "undoredo: could not read Citus's metadata");
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  1, &isnull);

		if (!isnull)
			table = DatumGetObjectId(d);
	}
	undoredo_spi_finish();
	return table;
}
