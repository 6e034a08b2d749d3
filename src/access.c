/*-------------------------------------------------------------------------
 *
 * access.c
 *	  Who may read, clear, undo and redo a scope's history, and who may
 *	  write into it.
 *
 * Reading follows the privileges on the tables the history touched.  Every
 * scope row keeps relids, the set of tables its steps changed since it was
 * made or last cleared: capture adds a table the first time a step of the
 * scope changes it (one UPDATE of the scope row per scope and table, in
 * the capturing transaction, so the set commits or rolls back with the
 * chunks that refer to it).  undoredo_history and undoredo_status need at
 * least one of SELECT, INSERT, UPDATE, DELETE (or a column privilege) on
 * each table of the set, undoredo_clear INSERT, UPDATE and DELETE, undo
 * and redo SELECT, INSERT, UPDATE and DELETE: what replaying any change
 * needs (a conservative rule; the replay itself still checks each row).
 * The set only grows until a clear: steps forgotten since (redo history
 * discarded, undoredo.max_steps) leave their tables in it, so a table the
 * caller lacks a privilege on is looked up in the chunks of the scope's
 * steps before the call is refused.  A table dropped since has no
 * privileges to check and is passed over.
 *
 * The check reads the set with the latest snapshot, without the scope
 * lock, so a caller without privileges fails before it takes or waits for
 * the lock.  Undo, redo and clear check again once they hold it, since a
 * step committed meanwhile may have added a table; undoredo_history and
 * undoredo_status, which take no lock, check again after reading.  The
 * caller is the current user (in a SECURITY DEFINER wrapper, its owner);
 * superusers are not checked.
 *
 * A scope belongs to the role that records its first step: the scope row's
 * owner, set when capture makes the row or when it finds none (a new scope,
 * one created by an undo of nothing, one cleared, or one recorded before
 * version 1.1.1), and reset by undoredo_clear.  The statement guard checks
 * the writer against the owner as last committed before it takes the
 * scope's lock, so a refused writer neither waits nor makes others wait;
 * every captured row change checks again under the lock that the writer
 * is a member of the owner (is_member_of_role; the role last found to be
 * one is remembered per scope and transaction, so a change costs a
 * comparison).  The writer is the current user: inside a
 * SECURITY DEFINER function, its owner.  A foreign-key action (ON DELETE
 * CASCADE, ...) runs as the referencing table's owner, not as the role
 * whose write fired it; its changes count as written by the session's
 * role (SET ROLE), the one that could have made them by hand.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "catalog/pg_class.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "undoredo.h"

/*
 * Run a statement on the history as the extension owner, with the latest
 * snapshot (its plan prepared in the user context it runs in).
 */
static void
run_latest(const char *sql, int nargs, const Oid *argtypes, Datum *values)
{
	UserContext saved;
	int			rc;

	undoredo_become_owner(&saved);
	rc = undoredo_execute_plan(undoredo_plan(InvalidOid, sql, nargs, argtypes),
							   values, NULL, GetLatestSnapshot(), false, 0);
	undoredo_restore_user(&saved);
	if (rc < 0)
		elog(ERROR, "undoredo: SPI_execute_snapshot failed for \"%s\": %s",
			 sql, SPI_result_code_string(rc));
}

/*-------------------------------------------------------------------------
 * Reading, clearing, undo and redo
 *-------------------------------------------------------------------------
 */

static bool
allowed(Oid relid, Oid userid, UndoRedoAccess need)
{
	AclMode		mask;

	switch (need)
	{
		case UNDOREDO_ACCESS_READ:
			mask = ACL_SELECT | ACL_INSERT | ACL_UPDATE | ACL_DELETE;
			if (pg_class_aclmask(relid, userid, mask, ACLMASK_ANY) != 0)
				return true;
			return pg_attribute_aclcheck_all(relid, userid,
											 ACL_SELECT | ACL_INSERT | ACL_UPDATE,
											 ACLMASK_ANY) == ACLCHECK_OK;
		case UNDOREDO_ACCESS_CLEAR:
			mask = ACL_INSERT | ACL_UPDATE | ACL_DELETE;
			break;
		default:
			mask = ACL_SELECT | ACL_INSERT | ACL_UPDATE | ACL_DELETE;
			break;
	}
	return pg_class_aclmask(relid, userid, mask, ACLMASK_ALL) == mask;
}

/*
 * Does a step of the scope refer to the table now?  Its written chunks, or
 * the changes this transaction captured and has not written yet.
 */
static bool
in_steps(const char *scope, int64 scope_id, Oid relid)
{
	const UndoRedoExtension *ext = undoredo_extension();
	ScopeState *ss = undoredo_find_scope_state(scope);
	Oid			argtypes[2] = {INT8OID, OIDOID};
	Datum		values[2];
	bool		isnull;

	if (ss != NULL)
	{
		ListCell   *lc;

		foreach(lc, ss->pending)
		{
			PendingChunk *chunk = (PendingChunk *) lfirst(lc);
			int			i;

			for (i = 0; i < chunk->nrelids; i++)
				if (chunk->relids[i] == relid)
					return true;
		}
	}
	values[0] = Int64GetDatum(scope_id);
	values[1] = ObjectIdGetDatum(relid);
	run_latest(psprintf("SELECT EXISTS (SELECT FROM"
						" (SELECT step FROM %s.undo_action"
						"  WHERE scope_id OPERATOR(pg_catalog.=) $1"
						"  UNION ALL SELECT step FROM %s.redo_action"
						"  WHERE scope_id OPERATOR(pg_catalog.=) $1) a"
						" JOIN %s.undoredo_change c"
						" ON c.step OPERATOR(pg_catalog.=) a.step"
						" WHERE $2 OPERATOR(pg_catalog.=) ANY"
						" (c.relids::pg_catalog.oid[]))",
						ext->qschema, ext->qschema, ext->qschema),
			   2, argtypes, values);
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull));
}

static void
refuse(Oid relid, const char *scope, UndoRedoAccess need)
{
	const char *relname = get_rel_name(relid);

	switch (need)
	{
		case UNDOREDO_ACCESS_READ:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for table %s", relname),
					 errdetail("Reading the history of \"%s\" needs a privilege on each table its steps changed.",
							   scope)));
			break;
		case UNDOREDO_ACCESS_CLEAR:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for table %s", relname),
					 errdetail("Clearing the history of \"%s\" needs INSERT, UPDATE and DELETE on each table its steps changed.",
							   scope)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for table %s", relname),
					 errdetail("Undo and redo of \"%s\" need SELECT, INSERT, UPDATE and DELETE on each table its steps changed.",
							   scope)));
			break;
	}
}

/*
 * Refuse the call (42501) unless the current user has what it needs on
 * every table of the scope's history as last committed.  Takes no lock;
 * must be called while connected to SPI.
 */
void
undoredo_access_check(const char *object_type, const char *object_id,
					  UndoRedoAccess need)
{
	const UndoRedoExtension *ext;
	Oid			userid = GetUserId();
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	int64		scope_id;
	Datum		d;
	Datum	   *elems;
	int			nelems;
	Oid		   *tables;
	int			i;
	char	   *scope = NULL;

	if (superuser_arg(userid))
		return;
	ext = undoredo_extension();
	values[0] = CStringGetTextDatum(object_type);
	values[1] = CStringGetTextDatum(object_id);
	run_latest(psprintf("SELECT scope_id, relids::pg_catalog.oid[]"
						" FROM %s.undoredo_scope"
						" WHERE object_type OPERATOR(pg_catalog.=) $1"
						" AND object_id OPERATOR(pg_catalog.=) $2",
						ext->qschema),
			   2, argtypes, values);
	if (SPI_processed == 0)
		return;					/* no history */
	scope_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (isnull)
		return;
	deconstruct_array(DatumGetArrayTypeP(d), OIDOID, sizeof(Oid), true,
					  TYPALIGN_INT, &elems, NULL, &nelems);
	tables = palloc(sizeof(Oid) * Max(nelems, 1));
	for (i = 0; i < nelems; i++)
		tables[i] = DatumGetObjectId(elems[i]);

	for (i = 0; i < nelems; i++)
	{
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(tables[i])))
			continue;			/* dropped: nothing to check */
		if (allowed(tables[i], userid, need))
			continue;
		if (scope == NULL)
			scope = psprintf("%s:%s", object_type, object_id);
		if (in_steps(scope, scope_id, tables[i]))
			refuse(tables[i], scope, need);
	}
}

/*
 * The scope's lock for undo, redo or clear, taken only if the current user
 * may do that: checked before the lock (so that a caller without
 * privileges never waits) and again once it is held.
 */
ScopeState *
undoredo_access_lock_scope(const char *object_type, const char *object_id,
						   UndoRedoAccess need)
{
	char	   *scope = psprintf("%s:%s", object_type, object_id);
	bool		held = undoredo_find_scope_state(scope) != NULL;
	ScopeState *ss;

	undoredo_access_check(object_type, object_id, need);
	ss = undoredo_lock_scope(scope);
	if (!held)
		undoredo_access_check(object_type, object_id, need);
	return ss;
}

/*-------------------------------------------------------------------------
 * Writing: the scope's owner and its set of tables
 *-------------------------------------------------------------------------
 */

#if PG_VERSION_NUM >= 180000
static Oid
table_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}
#endif

/* The role a captured change of the table counts as written by. */
static Oid
writer_role(Oid relid pg_attribute_unused())
{
	/* a foreign-key action runs as the referencing table's owner */
	if (InNoForceRLSOperation())
		return GetOuterUserId();
#if PG_VERSION_NUM >= 180000

	/*
	 * From PostgreSQL 18 on, an AFTER trigger runs as the role that queued
	 * its event: for a row a foreign-key action changed, the referencing
	 * table's owner, which the action ran as.  Such a change counts as the
	 * session role's, as before.
	 */
	if (InLocalUserIdChange() && GetUserId() != GetOuterUserId() &&
		GetUserId() == table_owner(relid))
		return GetOuterUserId();
#endif
	return GetUserId();
}

static bool
known_table(ScopeState *ss, Oid relid)
{
	int			i;

	for (i = 0; i < ss->ntables; i++)
		if (ss->tables[i] == relid)
			return true;
	return false;
}

static void
remember_table(ScopeState *ss, Oid relid, SubTransactionId subid)
{
	if (ss->ntables == ss->maxtables)
	{
		int			n = Max(ss->maxtables * 2, 8);

		if (ss->tables == NULL)
		{
			ss->tables = MemoryContextAlloc(TopTransactionContext, sizeof(Oid) * n);
			ss->table_subids = MemoryContextAlloc(TopTransactionContext,
												  sizeof(SubTransactionId) * n);
		}
		else
		{
			ss->tables = repalloc(ss->tables, sizeof(Oid) * n);
			ss->table_subids = repalloc(ss->table_subids,
										sizeof(SubTransactionId) * n);
		}
		ss->maxtables = n;
	}
	ss->tables[ss->ntables] = relid;
	ss->table_subids[ss->ntables] = subid;
	ss->ntables++;
}

/* What the scope's row says of its owner and tables (store.c). */
void
undoredo_access_note_tables(ScopeState *ss, Oid owner, int ntables,
							const Oid *tables)
{
	int			i;

	if (ss->owner != owner)
	{
		ss->owner = owner;
		ss->owner_subid = 0;
		ss->writer = InvalidOid;
	}
	for (i = 0; i < ntables; i++)
		if (!known_table(ss, tables[i]))
			remember_table(ss, tables[i], 0);
}

/* The scope has no owner: the writer becomes it, unless another did. */
static void
claim(ScopeState *ss, Oid writer)
{
	const UndoRedoExtension *ext = undoredo_extension();
	Oid			argtypes[2] = {INT8OID, REGROLEOID};
	Datum		values[2];
	bool		isnull;

	values[0] = Int64GetDatum(ss->scope_id);
	values[1] = ObjectIdGetDatum(writer);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "undoredo: SPI_connect failed");
	run_latest(psprintf("WITH claimed AS (UPDATE %s.undoredo_scope SET owner = $2"
						"  WHERE scope_id OPERATOR(pg_catalog.=) $1 AND owner IS NULL"
						"  RETURNING owner)"
						" SELECT owner::pg_catalog.oid FROM claimed"
						" UNION ALL SELECT owner::pg_catalog.oid FROM %s.undoredo_scope"
						"  WHERE scope_id OPERATOR(pg_catalog.=) $1 AND owner IS NOT NULL",
						ext->qschema, ext->qschema),
			   2, argtypes, values);
	if (SPI_processed != 1)
		elog(ERROR, "undoredo: scope row of \"%s\" is missing", ss->scope);
	ss->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	ss->owner_subid = GetCurrentSubTransactionId();
	ss->writer = InvalidOid;
}

/* A table not in the scope's set yet: add it to the scope's row. */
static void
add_table(ScopeState *ss, Oid relid)
{
	const UndoRedoExtension *ext = undoredo_extension();
	Oid			argtypes[2] = {INT8OID, REGCLASSOID};
	Datum		values[2];

	values[0] = Int64GetDatum(ss->scope_id);
	values[1] = ObjectIdGetDatum(relid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "undoredo: SPI_connect failed");
	run_latest(psprintf("UPDATE %s.undoredo_scope"
						" SET relids = relids OPERATOR(pg_catalog.||) $2"
						" WHERE scope_id OPERATOR(pg_catalog.=) $1"
						" AND NOT ($2 OPERATOR(pg_catalog.=) ANY (relids))",
						ext->qschema),
			   2, argtypes, values);
	SPI_finish();
	remember_table(ss, relid, GetCurrentSubTransactionId());
}

static void
refuse_writer(const char *scope, Oid owner, Oid writer)
{
	char	   *owner_name = GetUserNameFromId(owner, true);

	if (owner_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to write under undoredo.scope \"%s\"",
						scope),
				 errdetail("The scope belongs to a role that no longer exists (OID %u).",
						   owner),
				 errhint("A superuser can write under it, or undoredo_clear it.")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to write under undoredo.scope \"%s\"",
					scope),
			 errdetail("The scope belongs to role \"%s\", and role \"%s\" is not a member of it.",
					   owner_name, GetUserNameFromId(writer, false)),
			 errhint("Write as the scope's owner or a member of it (SET ROLE), or under another scope.")));
}

/*
 * A statement on a tracked table under the scope is about to take the
 * scope's lock: refuse a writer that is not a member of the scope's owner
 * as last committed, so that it neither waits for the lock nor makes the
 * owner's writers wait.  The owner this backend knows is enough when the
 * writer is a member of it; otherwise the scope row is read.  The owner
 * can change before the lock is taken (a clear, another claim): each
 * captured change checks again under the lock.
 */
void
undoredo_access_before_lock(const char *scope, Oid relid)
{
	Oid			writer = writer_role(relid);
	Oid			owner;

	if (undoredo_store_cached_owner(scope, &owner) &&
		is_member_of_role(writer, owner))
		return;
	owner = undoredo_store_read_owner(scope);
	if (OidIsValid(owner) && !is_member_of_role(writer, owner))
		refuse_writer(scope, owner, writer);
}

/*
 * A row change of table relid is about to be captured under the locked
 * scope: look the scope up (its row made with the writer as owner), claim
 * it if it has no owner, refuse a writer that is not a member of the
 * owner, and add the table to the scope's set.
 */
void
undoredo_access_write(ScopeState *ss, Oid relid)
{
	Oid			writer = writer_role(relid);

	if (ss->scope_id == 0)
		undoredo_scope_id_writing(ss, writer, relid);
	if (!OidIsValid(ss->owner))
		claim(ss, writer);
	if (writer != ss->writer)
	{
		if (!is_member_of_role(writer, ss->owner))
			refuse_writer(ss->scope, ss->owner, writer);
		ss->writer = writer;
	}
	if (!known_table(ss, relid))
		add_table(ss, relid);
}

/*
 * undoredo_clear emptied the scope's history: it has no owner and no
 * tables any more, in every backend (store.c's cache is invalidated).
 */
void
undoredo_access_cleared(ScopeState *ss)
{
	const UndoRedoExtension *ext = undoredo_extension();
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(undoredo_scope_id(ss));
	run_latest(psprintf("UPDATE %s.undoredo_scope"
						" SET owner = NULL, relids = '{}'"
						" WHERE scope_id OPERATOR(pg_catalog.=) $1",
						ext->qschema),
			   1, argtypes, values);
	undoredo_store_forget_scopes();
	ss->owner = InvalidOid;
	ss->owner_subid = 0;
	ss->writer = InvalidOid;
	ss->ntables = 0;
}

/*
 * A subtransaction ends: on abort, what it claimed or added to the scope's
 * row is rolled back, so forget it (all of it when the row was looked up
 * or made in it); on commit, hand it to the parent.
 */
void
undoredo_access_subxact(ScopeState *ss, bool commit,
						SubTransactionId mySubid, SubTransactionId parentSubid)
{
	int			i;
	int			n = 0;

	if (!commit && ss->scope_id != 0 && ss->id_subid == mySubid)
	{
		ss->owner = InvalidOid;
		ss->owner_subid = 0;
		ss->writer = InvalidOid;
		ss->ntables = 0;
		return;
	}
	if (ss->owner_subid == mySubid)
	{
		if (commit)
			ss->owner_subid = parentSubid;
		else
		{
			ss->owner = InvalidOid;
			ss->owner_subid = 0;
			ss->writer = InvalidOid;
		}
	}
	for (i = 0; i < ss->ntables; i++)
	{
		if (ss->table_subids[i] == mySubid)
		{
			if (!commit)
				continue;
			ss->table_subids[i] = parentSubid;
		}
		ss->tables[n] = ss->tables[i];
		ss->table_subids[n] = ss->table_subids[i];
		n++;
	}
	ss->ntables = n;
}
