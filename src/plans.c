/*-------------------------------------------------------------------------
 *
 * plans.c
 *	  Kept SPI plans: of the statements store.c runs on the history, and
 *	  of those replay.c runs on tracked tables.
 *
 * SPI plans are prepared once per backend and kept in a hash; the plan
 * cache re-plans them after DDL.  The rules of the cache are below.
 *
 *-------------------------------------------------------------------------
 */

#include "postgres.h"

#include "common/hashfn.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "undoredo.h"

/*
 * Kept SPI plans.  A plan is prepared in the user context it runs in (the
 * role, and whether that role bypasses its own table's forced row-level
 * security): the plan cache re-plans a kept plan when the role or
 * row_security changes, not when the security context does, so a plan
 * prepared as the caller and run as the table's owner would keep the
 * caller's policy quals.  The key is the table a statement is for (or
 * InvalidOid for the history's own statements), that user context and the
 * statement's text (compared on a hit), or for the history's statements
 * a purpose number, whose text is built only on a miss.  At most PLAN_CACHE_SIZE
 * plans are kept, least recently used first out, and a table's plans go
 * when its relcache entry is invalidated.  A plan is never freed while one
 * of ours is executing (a trigger of a replayed row may call in again, and
 * may ALTER the table): eviction and invalidation only mark entries, and
 * they are freed at the next lookup made with nothing executing, or at the
 * end of the transaction.
 */
#define PLAN_CACHE_SIZE 64

typedef struct PlanKey
{
	Oid			relid;
	Oid			userid;
	bool		noforce_rls;
	uint32		purpose;		/* 0: a statement found by its text */
	uint64		hash;			/* of the SQL text and argument types, or
								 * the generation of the extension's
								 * location for a purpose */
} PlanKey;

typedef struct PlanEntry
{
	PlanKey		key;
	char	   *sql;
	int			nargs;
	Oid		   *argtypes;
	SPIPlanPtr	plan;
	bool		dead;			/* to free when nothing executes */
	dlist_node	lru;			/* most recently used first */
} PlanEntry;

static HTAB *plan_cache = NULL;
static dlist_head plan_lru = DLIST_STATIC_INIT(plan_lru);
static int	plan_count = 0;
static int	plans_executing = 0;
static int	spi_depth = 0;		/* our SPI connections open (for Asserts) */

static void
free_plan_entry(PlanEntry *entry)
{
	dlist_delete(&entry->lru);
	if (entry->plan != NULL)
		SPI_freeplan(entry->plan);
	if (entry->sql != NULL)
		pfree(entry->sql);
	if (entry->argtypes != NULL)
		pfree(entry->argtypes);
	(void) hash_search(plan_cache, &entry->key, HASH_REMOVE, NULL);
	plan_count--;
}

/* Free the entries marked dead, and the oldest beyond the bound. */
static void
trim_plans(void)
{
	dlist_mutable_iter iter;

	if (plan_cache == NULL || plans_executing > 0)
		return;
	dlist_foreach_modify(iter, &plan_lru)
	{
		PlanEntry  *entry = dlist_container(PlanEntry, lru, iter.cur);

		if (entry->dead)
			free_plan_entry(entry);
	}
	while (plan_count > PLAN_CACHE_SIZE)
		free_plan_entry(dlist_container(PlanEntry, lru, dlist_tail_node(&plan_lru)));
}

static void
forget_table_plans(Datum arg pg_attribute_unused(), Oid relid)
{
	dlist_iter	iter;

	dlist_foreach(iter, &plan_lru)
	{
		PlanEntry  *entry = dlist_container(PlanEntry, lru, iter.cur);

		if (relid == InvalidOid || entry->key.relid == relid)
			entry->dead = true;
	}
}

/* How many plans this backend keeps (for tests: bounded). */
int
undoredo_kept_plans(void)
{
	return plan_count;
}

static SPIPlanPtr
prepare(const char *sql, int nargs, const Oid *argtypes)
{
	SPIPlanPtr	plan;

	Assert(spi_depth > 0);
	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);
	if (plan == NULL)
		elog(ERROR, "undoredo: SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	return plan;
}

/*
 * The kept plan under the key, prepared on a miss from the SQL text given,
 * or built by build(arg) when sql is NULL (a plan kept by purpose: its text
 * is built only on a miss, as ri_triggers.c does).
 */
static SPIPlanPtr
lookup(PlanKey *key, const char *sql, char *(*build) (void *arg), void *arg,
	   int nargs, const Oid *argtypes)
{
	PlanEntry  *entry;
	bool		found;
	int			sec_context;
	SPIPlanPtr	plan;

	if (plan_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(PlanKey);
		ctl.entrysize = sizeof(PlanEntry);
		plan_cache = hash_create("undoredo plans", PLAN_CACHE_SIZE * 2, &ctl,
								 HASH_ELEM | HASH_BLOBS);
		undoredo_on_relcache_change(forget_table_plans);
	}
	trim_plans();

	GetUserIdAndSecContext(&key->userid, &sec_context);
	key->noforce_rls = (sec_context & SECURITY_NOFORCE_RLS) != 0;

	entry = hash_search(plan_cache, key, HASH_FIND, NULL);
	if (entry != NULL && !entry->dead && entry->nargs == nargs &&
		(sql == NULL || strcmp(entry->sql, sql) == 0) &&
		(nargs == 0 || memcmp(entry->argtypes, argtypes, nargs * sizeof(Oid)) == 0))
	{
		dlist_move_head(&plan_lru, &entry->lru);
		return entry->plan;
	}
	if (sql == NULL)
		sql = build(arg);
	if (entry != NULL)
	{
		/* a stale entry or a hash collision: replace it when possible */
		if (plans_executing > 0)
			return prepare(sql, nargs, argtypes);	/* one-off, not kept */
		free_plan_entry(entry);
	}

	plan = prepare(sql, nargs, argtypes);
	SPI_keepplan(plan);

	entry = hash_search(plan_cache, key, HASH_ENTER, &found);
	Assert(!found);
	entry->plan = plan;
	entry->sql = MemoryContextStrdup(TopMemoryContext, sql);
	entry->nargs = nargs;
	entry->argtypes = NULL;
	if (nargs > 0)
	{
		entry->argtypes = MemoryContextAlloc(TopMemoryContext, nargs * sizeof(Oid));
		memcpy(entry->argtypes, argtypes, nargs * sizeof(Oid));
	}
	entry->dead = false;
	dlist_push_head(&plan_lru, &entry->lru);
	plan_count++;
	return plan;
}

/*
 * The kept plan of a statement for a table, in the current user context,
 * prepared on first use and found again by its text.  Must be called while
 * connected to SPI, in the user context the plan will be run in.
 */
SPIPlanPtr
undoredo_plan(Oid relid, const char *sql, int nargs, const Oid *argtypes)
{
	PlanKey		key;

	memset(&key, 0, sizeof(key));
	key.relid = relid;
	key.hash = hash_bytes_extended((const unsigned char *) sql, strlen(sql), 0);
	if (nargs > 0)
		key.hash ^= hash_bytes_extended((const unsigned char *) argtypes,
										nargs * sizeof(Oid), 1);
	return lookup(&key, sql, NULL, NULL, nargs, argtypes);
}

/*
 * A generic plan of a statement, not kept: for statements whose parameters
 * hold large values (replay.c), which a custom plan would copy into itself
 * as constants.  It lives in the SPI connection's memory.
 */
SPIPlanPtr
undoredo_plan_once(const char *sql, int nargs, const Oid *argtypes)
{
	SPIPlanPtr	plan;

	Assert(spi_depth > 0);
	plan = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes,
							  CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "undoredo: SPI_prepare_cursor failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	return plan;
}

/*
 * The kept plan of one of the history's statements (store.c), by purpose:
 * a small number that names the statement, and the generation of the
 * extension's schema name, so that a schema renamed, or the extension
 * made again in another schema, gives new plans (the plan cache re-plans
 * them when their relations change).  build(arg) makes the text on a miss.  The
 * same conditions as undoredo_plan.
 */
SPIPlanPtr
undoredo_plan_for(uint32 purpose, char *(*build) (void *arg), void *arg,
				  int nargs, const Oid *argtypes)
{
	PlanKey		key;

	memset(&key, 0, sizeof(key));
	key.relid = InvalidOid;
	key.purpose = purpose;
	key.hash = undoredo_extension()->generation;
	return lookup(&key, NULL, build, arg, nargs, argtypes);
}

/*
 * Run a kept plan: SPI_execute_snapshot with the given arguments, counted
 * as executing so that no plan is freed under it.
 */
int
undoredo_execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls,
					  Snapshot snapshot, bool read_only, long count)
{
	int			rc;

	Assert(spi_depth > 0);
	plans_executing++;
	PG_TRY();
	{
		rc = SPI_execute_snapshot(plan, values, nulls, snapshot, InvalidSnapshot,
								  read_only, false, count);
	}
	PG_FINALLY();
	{
		plans_executing--;
	}
	PG_END_TRY();
	return rc;
}

/* The transaction ended: an error skips nothing of the count (PG_FINALLY), but be sure */
void
undoredo_plans_at_xact_end(void)
{
	plans_executing = 0;
	spi_depth = 0;
}

/*
 * SPI_connect and SPI_finish, counted, so that what needs a connection
 * can Assert that one is open.  A connection an error closes (the
 * subtransaction or transaction that made it ends) leaves the count high:
 * an Assert then checks less, never falsely.
 */
void
undoredo_spi_connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "undoredo: SPI_connect failed");
	spi_depth++;
}

void
undoredo_spi_finish(void)
{
	Assert(spi_depth > 0);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "undoredo: SPI_finish failed");
	spi_depth--;
}

bool
undoredo_spi_connected(void)
{
	return spi_depth > 0;
}
