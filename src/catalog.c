/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The extension's own objects: where they live, who owns them, the SPI
 *	  plans that read and write them, the scope lock and the step that the
 *	  current transaction is capturing into.
 *
 * The history tables are private to the extension's owner.  Capture runs
 * inside the writer's statement and replay as the caller, so every
 * statement on the history switches to the owner for just that statement,
 * as ri_triggers.c does (SECURITY_LOCAL_USERID_CHANGE).
 *
 * SPI plans are prepared once per backend and kept in a hash keyed by their
 * SQL text and argument types; the plan cache re-plans them after DDL.
 *
 * The scope lock is a heavyweight lock on the scope's name, held to the end
 * of the transaction; the first capture, undo, redo or clear under it looks
 * up the scope's row (undoredo_scope_id), and in REPEATABLE READ checks
 * that the history is not newer than the transaction's snapshot.  Which scopes a transaction has locked, and
 * the step it captures into for each, is kept in transaction memory, so a
 * captured row costs a list lookup, not a query.  A subtransaction abort
 * forgets the locks and steps it took (the database rolls them back too);
 * undo, redo and clear forget the step of their scope, so later captures
 * start a new step.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "storage/lock.h"
#include "utils/snapmgr.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "undoredo.h"

typedef struct PlanEntry
{
	uint64		hash;			/* key */
	char	   *sql;
	int			nargs;
	Oid		   *argtypes;
	SPIPlanPtr	plan;
} PlanEntry;

static HTAB *plan_cache = NULL;

/*
 * Where the extension's objects are, kept across transactions and forgotten
 * when one of its relations changes (DROP or ALTER EXTENSION, a new owner)
 * or a schema is renamed.
 */
static UndoRedoExtension extension;
static bool extension_valid = false;
static const char *const history_relations[] = {
	"undoredo_scope", "undo_action", "redo_action", "undoredo_change",
	"undoredo_scope_object_type_object_id_key", "redo_action_scope_idx",
	"undoredo_scope_seq", "undoredo_step_seq"
};
static Oid	history_relids[lengthof(history_relations)];

static void
forget_extension_rel(Datum arg pg_attribute_unused(), Oid relid)
{
	int			i;

	for (i = 0; i < (int) lengthof(history_relids); i++)
		if (relid == InvalidOid || relid == history_relids[i])
			extension_valid = false;
}

static void
forget_extension(Datum arg pg_attribute_unused(), int cacheid pg_attribute_unused(),
				 uint32 hashvalue pg_attribute_unused())
{
	extension_valid = false;
}

static List *scope_states = NIL;	/* of ScopeState, in TopTransactionContext */

/* A step closed by undo, redo or clear, to reopen if that is rolled back. */
typedef struct ClosedStep
{
	ScopeState *ss;
	int64		step;
	int32		next_seq;
	SubTransactionId step_subid;
	SubTransactionId closed_subid;
} ClosedStep;

static List *closed_steps = NIL;	/* oldest first, in TopTransactionContext */

const UndoRedoExtension *
undoredo_extension(void)
{
	Oid			extoid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Form_pg_extension form;
	char	   *version;
	bool		isnull;
	int			i;

	if (extension_valid)
		return &extension;

	extoid = get_extension_oid("undoredo", true);
	if (!OidIsValid(extoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"undoredo\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION undoredo.")));

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "could not find tuple for extension %u", extoid);
	form = (Form_pg_extension) GETSTRUCT(tuple);
	extension.schema = form->extnamespace;
	extension.owner = form->extowner;
	version = TextDatumGetCString(heap_getattr(tuple, Anum_pg_extension_extversion,
											   RelationGetDescr(rel), &isnull));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	/* the history layout of another version would be misread */
	if (strcmp(version, UNDOREDO_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"undoredo\" is installed at version %s, but its library is version %s",
						version, UNDOREDO_VERSION),
				 errhint("Run ALTER EXTENSION undoredo UPDATE.")));

	if (extension.qschema)
		pfree(extension.qschema);
	extension.qschema = MemoryContextStrdup(TopMemoryContext,
											quote_identifier(get_namespace_name(extension.schema)));
	extension_valid = true;
	for (i = 0; i < (int) lengthof(history_relations); i++)
	{
		history_relids[i] = get_relname_relid(history_relations[i], extension.schema);
		if (!OidIsValid(history_relids[i]))
			extension_valid = false;	/* damaged: look again next time */
	}
	return &extension;
}

/* The oid of one of the extension's relations, by name. */
Oid
undoredo_history_relid(const char *name)
{
	int			i;

	(void) undoredo_extension();
	for (i = 0; i < (int) lengthof(history_relations); i++)
	{
		if (strcmp(history_relations[i], name) != 0)
			continue;
		if (!OidIsValid(history_relids[i]))
			elog(ERROR, "undoredo: relation \"%s\" of the extension is missing", name);
		return history_relids[i];
	}
	elog(ERROR, "undoredo: \"%s\" is not a relation of the extension", name);
	return InvalidOid;			/* keep the compiler quiet */
}

void
undoredo_become_owner(UserContext *saved)
{
	const UndoRedoExtension *ext = undoredo_extension();

	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(ext->owner,
						   saved->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
undoredo_restore_user(const UserContext *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * The kept plan for this SQL text and argument types, prepared on first use.
 * Must be called while connected to SPI.
 */
SPIPlanPtr
undoredo_plan(const char *sql, int nargs, const Oid *argtypes)
{
	uint64		hash;
	PlanEntry  *entry;
	bool		found;
	SPIPlanPtr	plan;

	if (plan_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(PlanEntry);
		plan_cache = hash_create("undoredo plans", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS);
	}

	hash = hash_bytes_extended((const unsigned char *) sql, strlen(sql), 0);
	if (nargs > 0)
		hash ^= hash_bytes_extended((const unsigned char *) argtypes,
									nargs * sizeof(Oid), 1);

	entry = hash_search(plan_cache, &hash, HASH_ENTER, &found);
	if (found && entry->plan != NULL && strcmp(entry->sql, sql) == 0 &&
		entry->nargs == nargs &&
		(nargs == 0 || memcmp(entry->argtypes, argtypes, nargs * sizeof(Oid)) == 0))
		return entry->plan;

	if (found && entry->plan != NULL)
	{
		/* a hash collision: replace the entry */
		SPI_freeplan(entry->plan);
		pfree(entry->sql);
		if (entry->argtypes)
			pfree(entry->argtypes);
	}
	entry->plan = NULL;

	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);
	if (plan == NULL)
		elog(ERROR, "undoredo: SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);

	entry->sql = MemoryContextStrdup(TopMemoryContext, sql);
	entry->nargs = nargs;
	entry->argtypes = NULL;
	if (nargs > 0)
	{
		entry->argtypes = MemoryContextAlloc(TopMemoryContext, nargs * sizeof(Oid));
		memcpy(entry->argtypes, argtypes, nargs * sizeof(Oid));
	}
	entry->plan = plan;
	return plan;
}

/* Run a statement on the history as the extension owner. */
int
undoredo_run_as_owner(const char *sql, int nargs, const Oid *argtypes,
					  Datum *values, const char *nulls, long count)
{
	SPIPlanPtr	plan = undoredo_plan(sql, nargs, argtypes);
	UserContext saved;
	int			rc;

	undoredo_become_owner(&saved);
	rc = SPI_execute_plan(plan, values, nulls, false, count);
	undoredo_restore_user(&saved);
	if (rc < 0)
		elog(ERROR, "undoredo: SPI_execute_plan failed for \"%s\": %s",
			 sql, SPI_result_code_string(rc));
	return rc;
}

/*
 * Take the scope lock: a heavyweight lock on a hash of the scope's name (an
 * advisory lock tag in a key space of our own, shown in pg_locks), held to
 * the end of the transaction, so lock_timeout, deadlock detection and
 * waiting all work as for any lock.  It writes nothing: a statement that
 * changes no tracked row costs no WAL.
 */
static void
lock_scope_name(const char *scope)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) scope,
										   strlen(scope), 0);
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (hash >> 32),
						 (uint32) hash, UNDOREDO_LOCK_SPACE);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * A REPEATABLE READ or SERIALIZABLE transaction that waited for the scope
 * lock must not act on the history as its snapshot shows it if another
 * transaction changed it since: compare the scope's steps (and whether each
 * can be undone or redone) as the snapshot sees them and as the latest
 * committed state has them; any difference is a serialization failure.
 */
static void
check_history_not_newer(int64 scope_id, const char *scope)
{
	const UndoRedoExtension *ext = undoredo_extension();
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	SPIPlanPtr	plan;
	UserContext saved;
	char	   *seen[2];
	int			i;

	values[0] = Int64GetDatum(scope_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "undoredo: SPI_connect failed");
	plan = undoredo_plan(psprintf("SELECT pg_catalog.string_agg(s.step::pg_catalog.text"
								  " OPERATOR(pg_catalog.||) s.state, ',' ORDER BY s.step)"
								  " FROM (SELECT step, 'u' AS state FROM %s.undo_action"
								  "       WHERE scope_id OPERATOR(pg_catalog.=) $1"
								  "       UNION ALL SELECT step, 'r' FROM %s.redo_action"
								  "       WHERE scope_id OPERATOR(pg_catalog.=) $1) s",
								  ext->qschema, ext->qschema),
						 1, argtypes);
	undoredo_become_owner(&saved);
	for (i = 0; i < 2; i++)
	{
		bool		isnull;
		Datum		d;

		if (SPI_execute_snapshot(plan, values, NULL,
								 i == 0 ? InvalidSnapshot : GetLatestSnapshot(),
								 InvalidSnapshot, true, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "undoredo: could not read the history of \"%s\"", scope);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		seen[i] = isnull ? "" : TextDatumGetCString(d);
	}
	undoredo_restore_user(&saved);
	SPI_finish();
	if (strcmp(seen[0], seen[1]) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent update"),
				 errdetail("Another transaction changed the history of \"%s\" after this transaction's snapshot was taken.",
						   scope)));
}

/*
 * The id of a locked scope, its row made on first use.  The first call in
 * a REPEATABLE READ or SERIALIZABLE transaction also checks that no other
 * transaction changed the history since its snapshot.
 */
int64
undoredo_scope_id(ScopeState *ss)
{
	if (ss->scope_id == 0)
	{
		ss->scope_id = undoredo_store_scope(ss->scope);
		ss->id_subid = GetCurrentSubTransactionId();
		if (IsolationUsesXactSnapshot())
			check_history_not_newer(ss->scope_id, ss->scope);
	}
	return ss->scope_id;
}

void
undoredo_counts(int64 scope_id, int32 *undo_count, int32 *redo_count)
{
	const UndoRedoExtension *ext = undoredo_extension();
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;

	*undo_count = *redo_count = 0;
	if (scope_id == 0)
		return;
	values[0] = Int64GetDatum(scope_id);
	undoredo_run_as_owner(psprintf("SELECT"
								   " (SELECT pg_catalog.count(*) FROM %s.undo_action"
								   "  WHERE scope_id OPERATOR(pg_catalog.=) $1)::pg_catalog.int4,"
								   " (SELECT pg_catalog.count(*) FROM %s.redo_action"
								   "  WHERE scope_id OPERATOR(pg_catalog.=) $1)::pg_catalog.int4",
								   ext->qschema, ext->qschema),
						  1, argtypes, values, NULL, 1);
	*undo_count = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull));
	*redo_count = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 2, &isnull));
}

/* Forget all steps of a scope in undo_action or redo_action. */
void
undoredo_discard_steps(const char *table, int64 scope_id)
{
	const UndoRedoExtension *ext = undoredo_extension();
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(scope_id);
	undoredo_run_as_owner(psprintf("WITH gone AS (DELETE FROM %s.%s"
								   " WHERE scope_id OPERATOR(pg_catalog.=) $1 RETURNING step)"
								   " DELETE FROM %s.undoredo_change c USING gone"
								   " WHERE c.step OPERATOR(pg_catalog.=) gone.step",
								   ext->qschema, table, ext->qschema),
						  1, argtypes, values, NULL, 0);
}

/*
 * Start a step of a locked scope: discard its redo history, insert the step
 * and forget the oldest undoable steps beyond undoredo.max_steps.  The
 * common case (nothing to redo, no limit) makes no query.
 */
static void
begin_step(ScopeState *cs)
{
	const UndoRedoExtension *ext = undoredo_extension();
	bool		redo = undoredo_store_has_redo(cs->scope_id);

	if (redo || undoredo_max_steps > 0)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "undoredo: SPI_connect failed");
		if (redo)
			undoredo_discard_steps("redo_action", cs->scope_id);
	}

	cs->step = undoredo_store_step(cs->scope_id, undoredo_label,
								   GetCurrentTransactionStartTimestamp());
	cs->next_seq = 1;

	if (undoredo_max_steps > 0)
	{
		Oid			pargtypes[2] = {INT8OID, INT4OID};
		Datum		pvalues[2];

		pvalues[0] = Int64GetDatum(cs->scope_id);
		pvalues[1] = Int32GetDatum(undoredo_max_steps);
		undoredo_run_as_owner(psprintf("WITH old AS (SELECT step FROM %s.undo_action"
									   "  WHERE scope_id OPERATOR(pg_catalog.=) $1"
									   "  ORDER BY step DESC OFFSET $2),"
									   " gone AS (DELETE FROM %s.undo_action a USING old"
									   "  WHERE a.scope_id OPERATOR(pg_catalog.=) $1"
									   "  AND a.step OPERATOR(pg_catalog.=) old.step RETURNING a.step)"
									   " DELETE FROM %s.undoredo_change c USING gone"
									   " WHERE c.step OPERATOR(pg_catalog.=) gone.step",
									   ext->qschema, ext->qschema, ext->qschema),
							  2, pargtypes, pvalues, NULL, 0);
	}
	if (redo || undoredo_max_steps > 0)
		SPI_finish();
}

/*
 * The scope's state in this transaction, its lock taken on first use.
 */
ScopeState *
undoredo_lock_scope(const char *scope)
{
	ScopeState *ss = undoredo_find_scope_state(scope);
	MemoryContext oldcxt;

	if (ss != NULL)
		return ss;

	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	ss = palloc0(sizeof(ScopeState));
	ss->scope = pstrdup(scope);
	MemoryContextSwitchTo(oldcxt);

	lock_scope_name(scope);
	ss->lock_subid = GetCurrentSubTransactionId();

	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	scope_states = lcons(ss, scope_states);
	MemoryContextSwitchTo(oldcxt);
	return ss;
}

/* The scope's state if this transaction has locked it, else NULL. */
ScopeState *
undoredo_find_scope_state(const char *scope)
{
	ListCell   *lc;

	foreach(lc, scope_states)
	{
		ScopeState *ss = (ScopeState *) lfirst(lc);

		if (strcmp(ss->scope, scope) == 0)
			return ss;
	}
	return NULL;
}

List *
undoredo_scope_states(void)
{
	return scope_states;
}

/*
 * The scope's state with the step this transaction captures into, started
 * on first use.
 */
ScopeState *
undoredo_current_step(const char *scope)
{
	ScopeState *ss = undoredo_lock_scope(scope);

	if (ss->step == 0)
	{
		undoredo_scope_id(ss);
		begin_step(ss);
		ss->step_subid = GetCurrentSubTransactionId();
	}
	return ss;
}

/*
 * Later captures into this scope start a new step (after undo, redo or
 * clear); if the subtransaction doing this rolls back, the step goes on.
 */
void
undoredo_close_step(ScopeState *ss)
{
	MemoryContext oldcxt;
	ClosedStep *cs;

	if (ss->step == 0)
		return;
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	cs = palloc(sizeof(ClosedStep));
	cs->ss = ss;
	cs->step = ss->step;
	cs->next_seq = ss->next_seq;
	cs->step_subid = ss->step_subid;
	cs->closed_subid = GetCurrentSubTransactionId();
	closed_steps = lappend(closed_steps, cs);
	MemoryContextSwitchTo(oldcxt);
	ss->step = 0;
}

static void
xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			foreach(lc, scope_states)
			{
				undoredo_flush_pending((ScopeState *) lfirst(lc), true);
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			foreach(lc, scope_states)
			{
				ScopeState *ss = (ScopeState *) lfirst(lc);

				if (ss->scope_id != 0)
					undoredo_store_remember_scope(ss->scope, ss->scope_id);
			}
			pg_fallthrough;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			scope_states = NIL;	/* its memory goes with the transaction */
			closed_steps = NIL;
			break;
		default:
			break;
	}
}

/*
 * A subtransaction abort reopens the steps it closed, rolls back the steps
 * it started and releases the locks it took; a commit hands all three to
 * the parent.
 */
static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg pg_attribute_unused())
{
	ListCell   *lc;
	List	   *reopened = NIL;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	foreach(lc, closed_steps)
	{
		ClosedStep *cs = (ClosedStep *) lfirst(lc);

		if (cs->closed_subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			cs->closed_subid = parentSubid;
			continue;
		}
		/* the first one closed in this subtransaction is the one to reopen */
		if (!list_member_ptr(reopened, cs->ss))
		{
			cs->ss->step = cs->step;
			cs->ss->next_seq = cs->next_seq;
			cs->ss->step_subid = cs->step_subid;
			reopened = lappend(reopened, cs->ss);
		}
		closed_steps = foreach_delete_current(closed_steps, lc);
	}
	list_free(reopened);

	foreach(lc, scope_states)
	{
		ScopeState *ss = (ScopeState *) lfirst(lc);

		undoredo_pending_subxact(ss, event == SUBXACT_EVENT_COMMIT_SUB,
								 mySubid, parentSubid);
		if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			if (ss->lock_subid == mySubid)
			{
				scope_states = foreach_delete_current(scope_states, lc);
				continue;
			}
			if (ss->step != 0 && ss->step_subid == mySubid)
				ss->step = 0;
			if (ss->scope_id != 0 && ss->id_subid == mySubid)
				ss->scope_id = 0;	/* the row it made is gone */
		}
		else
		{
			if (ss->lock_subid == mySubid)
				ss->lock_subid = parentSubid;
			if (ss->id_subid == mySubid)
				ss->id_subid = parentSubid;
			if (ss->step_subid == mySubid)
				ss->step_subid = parentSubid;
		}
	}
}

void
undoredo_xact_init(void)
{
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
	CacheRegisterRelcacheCallback(forget_extension_rel, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, forget_extension, (Datum) 0);
}

/* Argument helpers shared by the SQL-callable functions. */
char *
undoredo_object_type_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *object_type;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("object_type must not be null")));
	object_type = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (object_type[0] == '\0' || strchr(object_type, ':') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid object_type \"%s\"", object_type),
				 errdetail("An object type is non-empty and has no colon, as in undoredo.scope \"<object_type>:<object_id>\".")));
	return object_type;
}

/* object_id is bigint or text: the bigint form is its decimal text form */
char *
undoredo_object_id_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *object_id;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("object_id must not be null")));
	if (get_fn_expr_argtype(fcinfo->flinfo, argno) == INT8OID)
		object_id = psprintf(INT64_FORMAT, PG_GETARG_INT64(argno));
	else
		object_id = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (object_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("object_id must not be empty")));
	return object_id;
}
