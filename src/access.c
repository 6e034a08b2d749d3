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
	ScopeState *ss = undoredo_find_scope_state(scope);

	if (ss != NULL && undoredo_scope_pending_refers_to(ss, relid))
		return true;
	return undoredo_store_refers_to(scope_id, relid);
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
 * every table of the scope's history as last committed.  Takes no lock.
 */
void
undoredo_access_check(const char *object_type, const char *object_id,
					  UndoRedoAccess need)
{
	Oid			userid = GetUserId();
	int64		scope_id;
	int			ntables;
	Oid		   *tables;
	int			i;
	char	   *scope = NULL;

	if (superuser_arg(userid))
		return;
	scope_id = undoredo_store_scope_tables(object_type, object_id, true,
										   &ntables, &tables);
	for (i = 0; i < ntables; i++)
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

	Assert(undoredo_scope_locked(ss));
	if (ss->scope_id == 0)
		undoredo_scope_id_writing(ss, writer, relid);
	if (!OidIsValid(ss->owner))
		undoredo_scope_set_owner(ss, undoredo_store_claim(ss->scope_id, writer));
	if (writer != ss->writer)
	{
		if (!is_member_of_role(writer, ss->owner))
			refuse_writer(ss->scope, ss->owner, writer);
		ss->writer = writer;
	}
	if (!undoredo_scope_has_table(ss, relid))
	{
		undoredo_store_add_table(ss->scope_id, relid);
		undoredo_scope_add_table(ss, relid);
	}
}

/*
 * undoredo_clear emptied the scope's history: it has no owner and no
 * tables any more, in every backend (store.c's cache is invalidated).
 */
void
undoredo_access_cleared(ScopeState *ss)
{
	undoredo_store_clear_scope(undoredo_scope_id(ss));
	undoredo_scope_cleared(ss);
}
