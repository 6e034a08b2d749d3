/*-------------------------------------------------------------------------
 *
 * scope.c
 *	  The scope lock and the step that the current transaction is capturing
 *	  into: the transaction state of the extension.
 *
 * The scope lock is a heavyweight lock on the scope's name, held to the end
 * of the transaction; the first capture, undo, redo or clear under it looks
 * up the scope's row (undoredo_scope_id), and in REPEATABLE READ checks
 * that the history is not newer than the transaction's snapshot.  Which
 * scopes a transaction has locked, and the step it captures into for each,
 * is kept in transaction memory, in a hash table by scope name, so a
 * captured row costs a hash lookup, not a query.  A subtransaction abort
 * forgets the locks and steps it took (the database rolls them back too);
 * undo, redo and clear forget the step of their scope, so later captures
 * start a new step.  What each subtransaction did is listed per
 * subtransaction (ScopeLevel), so that its end, and the end of each
 * statement, costs what it touched, not what the whole transaction holds:
 * a transaction may write under tens of thousands of scopes, in linear
 * time.  Each scope lock is an entry of the server's lock table; when that
 * is full, the error says so and names max_locks_per_transaction.
 *
 * Captured changes are not written one by one: a query per row would cost
 * several times the write it records.  They are appended to a pending
 * chunk in transaction memory, and a chunk becomes one history row
 * (store.c, no query) when it is full, when the statement ends (the
 * ExecutorFinish and ProcessUtility hooks here, after the statement's
 * AFTER triggers have fired) and at commit.  Each chunk holds consecutive changes of one
 * subtransaction, so a rolled-back savepoint drops exactly its own changes,
 * and chunks of an outer level are never written inside a subtransaction
 * that may still roll back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/lock.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "undoredo.h"

/*
 * The scopes this transaction has locked, by name: a hash table of
 * ScopeEntry in TopTransactionContext, made on first use.
 */
typedef struct ScopeEntry
{
	const char *scope;			/* key: points to ss->scope */
	ScopeState *ss;
} ScopeEntry;

static HTAB *scope_table = NULL;

/* A step closed by undo, redo or clear, to reopen if that is rolled back. */
typedef struct ClosedStep
{
	ScopeState *ss;
	int64		step;
	int32		next_seq;
	SubTransactionId step_subid;
	SubTransactionId closed_subid;
} ClosedStep;

/*
 * What one (sub)transaction did to scopes, kept only for the levels that did
 * something, innermost first, in TopTransactionContext.  The end of a
 * subtransaction looks at its own level only, so its cost follows what it
 * touched, not how many scopes the transaction holds; a commit hands the
 * level's lists to the parent.  A scope may be listed twice (touched again
 * after a child level ended): processing it is idempotent.
 */
typedef struct ScopeLevel
{
	SubTransactionId subid;
	List	   *touched;		/* ScopeStates: lock, id, step or changes of
								 * this level */
	List	   *dirty;			/* ScopeStates with changes of this level not
								 * yet written */
	List	   *closed;			/* ClosedSteps closed at this level, oldest
								 * first */
	struct ScopeLevel *outer;
} ScopeLevel;

static ScopeLevel *levels = NULL;

/*
 * Citus: was the scope in effect set by a SET LOCAL of this transaction
 * (the only way Citus sends it to the workers)?  The value it set, kept
 * to the end of the transaction; NULL when none.
 */
static char *scope_set_local = NULL;

/* how deeply statements nest now, and the scopes being written (below) */
static int	statement_depth = 0;
static List *writing_scopes = NIL;	/* of ScopeState, writing_depth set */

/* see undoredo.h */
UndoRedoReplayFiring undoredo_replay_firing;

static void flush_pending(ScopeState *ss, bool all);
static void pending_subxact(ScopeState *ss, bool commit,
							SubTransactionId mySubid,
							SubTransactionId parentSubid);

static uint32
scope_key_hash(const void *key, Size keysize pg_attribute_unused())
{
	const char *scope = *(const char *const *) key;

	return hash_bytes((const unsigned char *) scope, strlen(scope));
}

static int
scope_key_compare(const void *key1, const void *key2,
				  Size keysize pg_attribute_unused())
{
	return strcmp(*(const char *const *) key1, *(const char *const *) key2);
}

/* The current subtransaction's level, made if it has none yet. */
static ScopeLevel *
current_level(void)
{
	SubTransactionId subid = GetCurrentSubTransactionId();

	if (levels == NULL || levels->subid != subid)
	{
		ScopeLevel *level = MemoryContextAllocZero(TopTransactionContext,
												   sizeof(ScopeLevel));

		level->subid = subid;
		level->outer = levels;
		levels = level;
	}
	return levels;
}

/* Note that the current subtransaction set something of the scope. */
static void
touch_scope(ScopeState *ss)
{
	ScopeLevel *level = current_level();

	if (ss->touched_subid != level->subid)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);

		level->touched = lappend(level->touched, ss);
		MemoryContextSwitchTo(oldcxt);
		ss->touched_subid = level->subid;
	}
}

/*
 * capture.c started a chunk of changes of the current subtransaction: the
 * end of the statement writes it.
 */
static void
scope_pending(ScopeState *ss)
{
	ScopeLevel *level = current_level();

	touch_scope(ss);
	if (ss->dirty_subid != level->subid)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);

		level->dirty = lappend(level->dirty, ss);
		MemoryContextSwitchTo(oldcxt);
		ss->dirty_subid = level->subid;
	}
}

/*
 * The scopes that may hold changes of the current subtransaction not yet
 * written, forgotten as they are handed out: the caller writes them.
 */
static List *
take_dirty_scopes(void)
{
	List	   *dirty;
	ListCell   *lc;

	if (levels == NULL || levels->subid != GetCurrentSubTransactionId())
		return NIL;
	dirty = levels->dirty;
	levels->dirty = NIL;
	foreach(lc, dirty)
	{
		((ScopeState *) lfirst(lc))->dirty_subid = InvalidSubTransactionId;
	}
	return dirty;
}

/*-------------------------------------------------------------------------
 * The scope's row as this transaction knows it: its owner and the tables
 * in its set (access.c decides, store.c writes them).  What a
 * subtransaction claimed or added is forgotten when it rolls back.
 *-------------------------------------------------------------------------
 */

/* Is the table known to be in the scope's set? */
bool
undoredo_scope_has_table(ScopeState *ss, Oid relid)
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
static void
note_row(ScopeState *ss, const ScopeRow *row)
{
	int			i;

	if (ss->owner != row->owner)
	{
		ss->owner = row->owner;
		ss->owner_subid = 0;
		ss->writer = InvalidOid;
	}
	for (i = 0; i < row->ntables; i++)
		if (!undoredo_scope_has_table(ss, row->tables[i]))
			remember_table(ss, row->tables[i], 0);
}

/* The current subtransaction added the table to the scope's row. */
void
undoredo_scope_add_table(ScopeState *ss, Oid relid)
{
	remember_table(ss, relid, GetCurrentSubTransactionId());
	touch_scope(ss);
}

/* The current subtransaction made the role the scope's owner. */
void
undoredo_scope_set_owner(ScopeState *ss, Oid owner)
{
	ss->owner = owner;
	ss->owner_subid = GetCurrentSubTransactionId();
	ss->writer = InvalidOid;
	touch_scope(ss);
}

/* The scope's row has no owner and no tables any more (undoredo_clear). */
void
undoredo_scope_cleared(ScopeState *ss)
{
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
static void
row_subxact(ScopeState *ss, bool commit,
			SubTransactionId mySubid, SubTransactionId parentSubid)
{
	int			i;
	int			n = 0;

	if (!commit && ss->scope_id != 0 && ss->id_subid == mySubid)
	{
		undoredo_scope_cleared(ss);
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

/* field4 of the advisory lock tag of the probe below ("UP") */
#define UNDOREDO_PROBE_LOCK_SPACE 0x5550

/*
 * Take the scope lock: a heavyweight lock on a hash of the scope's name (an
 * advisory lock tag in a key space of our own, shown in pg_locks), held to
 * the end of the transaction, so lock_timeout, deadlock detection and
 * waiting all work as for any lock.  It writes nothing: a statement that
 * changes no tracked row costs no WAL.
 *
 * The lock table must keep room for one more lock afterwards: writing the
 * history takes relation extension locks for a moment, and one that finds
 * the table full fails with a bare "out of shared memory".  A lock of this
 * backend's own that is taken and released at once probes for that room,
 * so that a full lock table is reported here, naming the scope.
 */
/*
 * An exclusive transaction lock that reports a full lock table to the
 * caller (LOCKACQUIRE_NOT_AVAIL) instead of raising "out of shared
 * memory".  PostgreSQL 18 added an argument (whether to log a failure to
 * get a lock without waiting).
 */
static LockAcquireResult
acquire_lock(const LOCKTAG *tag, bool dontWait)
{
#if PG_VERSION_NUM >= 180000
	return LockAcquireExtended(tag, ExclusiveLock, false, dontWait, false, NULL,
							   false);
#else
	return LockAcquireExtended(tag, ExclusiveLock, false, dontWait, false, NULL);
#endif
}

static void
lock_scope_name(const char *scope)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) scope,
										   strlen(scope), 0);
	LOCKTAG		tag;
	LOCKTAG		probe;
	bool		full;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (hash >> 32),
						 (uint32) hash, UNDOREDO_LOCK_SPACE);
	SET_LOCKTAG_ADVISORY(probe, MyDatabaseId, (uint32) MyProcPid, 0,
						 UNDOREDO_PROBE_LOCK_SPACE);
	/* waiting, so "not available" can only mean that the lock table is full */
	full = acquire_lock(&tag, false) == LOCKACQUIRE_NOT_AVAIL;
	/* no other backend takes this probe: "not available" is a full table */
	if (!full)
	{
		full = acquire_lock(&probe, true) == LOCKACQUIRE_NOT_AVAIL;
		if (!full)
			LockRelease(&probe, ExclusiveLock, false);
	}
	if (full)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not lock scope \"%s\": the lock table is full", scope),
				 errdetail("This transaction holds the locks of %ld scopes; every scope a transaction writes, undoes or redoes keeps a lock until the transaction ends.",
						   scope_table != NULL ? hash_get_num_entries(scope_table) : 0L),
				 errhint("Increase max_locks_per_transaction, or write under fewer scopes per transaction.")));
	/* what the last holder changed, as for a relation lock (store.c) */
	AcceptInvalidationMessages();
}

/*
 * A REPEATABLE READ or SERIALIZABLE transaction that waited for the scope
 * lock must not act on the history as its snapshot shows it if another
 * transaction changed it since: compare the scope's steps (and whether each
 * can be undone or redone) as the snapshot sees them and as the latest
 * committed state has them; any difference is a serialization failure.
 */
static void
check_history_not_newer(ScopeState *ss)
{
	if (undoredo_store_newer_than_snapshot(ss->scope_id))
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent update"),
				 errdetail("Another transaction changed the history of \"%s\" after this transaction's snapshot was taken.",
						   ss->scope)));
}

/*
 * The id of a locked scope, its row made on first use.  The first call in
 * a REPEATABLE READ or SERIALIZABLE transaction also checks that no other
 * transaction changed the history since its snapshot.
 */
int64
undoredo_scope_id(ScopeState *ss)
{
	return undoredo_scope_id_writing(ss, InvalidOid, InvalidOid);
}

/* The same, for a capture: a row made now gets its owner and first table. */
int64
undoredo_scope_id_writing(ScopeState *ss, Oid owner, Oid relid)
{
	Assert(undoredo_scope_locked(ss));
	if (ss->scope_id == 0)
	{
		ScopeRow	row;

		ss->scope_id = undoredo_store_scope(ss->scope, owner, relid, &row);
		ss->id_subid = GetCurrentSubTransactionId();
		touch_scope(ss);
		note_row(ss, &row);
		if (IsolationUsesXactSnapshot())
			check_history_not_newer(ss);
	}
	return ss->scope_id;
}

/*
 * For reading a scope's history (undoredo_status, undoredo_history,
 * undoredo_changes): the scope's id, 0 if it has no row.  A transaction that has locked the
 * scope and looked its id up uses that id: capture, undo, redo and clear
 * find the row with the latest snapshot, so under REPEATABLE READ it may
 * have been committed by another transaction (an undo of the brand-new
 * scope, say) after this transaction's snapshot was taken, and a lookup
 * with that snapshot would miss it and hide the transaction's own step.
 * The steps themselves are then read with the transaction's snapshot,
 * which the scope lock and the check in undoredo_scope_id keep in step
 * with the latest state.
 */
int64
undoredo_scope_for_reading(const char *object_type, const char *object_id)
{
	ScopeState *ss = undoredo_find_scope_state(psprintf("%s:%s", object_type,
														object_id));
	int			ntables;
	Oid		   *tables;

	if (ss != NULL && ss->scope_id != 0)
		return ss->scope_id;
	return undoredo_store_scope_tables(object_type, object_id, false,
									   &ntables, &tables);
}

/*
 * A revert running (replay.c): the scope whose new step its replay's rows
 * go to, the step it reverts and the new step's label.
 */
static struct
{
	ScopeState *ss;
	int64		reverts;
	char	   *label;
} revert;

void
undoredo_revert_begin(ScopeState *ss, int64 reverts, char *label)
{
	Assert(undoredo_scope_locked(ss) && ss->step == 0);
	revert.ss = ss;
	revert.reverts = reverts;
	revert.label = label;
}

void
undoredo_revert_end(void)
{
	revert.ss = NULL;
}

/* The scope a running revert captures into, or NULL. */
ScopeState *
undoredo_reverting(void)
{
	return revert.ss;
}

/*
 * Start a step of a locked scope: discard the redo history of its actor
 * (undoredo.actor; steps without one are one actor), insert the step and
 * forget the oldest undoable steps beyond undoredo.max_steps.  The common
 * case (nothing to redo, no limit) makes no query.
 */
static void
begin_step(ScopeState *cs)
{
	const char *actor = undoredo_actor != NULL && undoredo_actor[0] != '\0' ?
		undoredo_actor : NULL;
	bool		reverting = revert.ss == cs;

	if (undoredo_store_has_redo(cs->scope_id, actor))
		undoredo_store_discard_redo(cs->scope_id, actor);

	cs->step = undoredo_store_step(cs->scope_id,
								   reverting ? revert.label : undoredo_label,
								   actor, reverting ? revert.reverts : 0,
								   GetCurrentTransactionStartTimestamp());
	cs->next_seq = 1;

	if (undoredo_max_steps > 0)
		undoredo_store_prune(cs->scope_id, undoredo_max_steps);
}

/*
 * The scope's state in this transaction, its lock taken on first use.
 */
ScopeState *
undoredo_lock_scope(const char *scope)
{
	ScopeState *ss = undoredo_find_scope_state(scope);
	ScopeEntry *entry;
	MemoryContext oldcxt;

	if (ss != NULL)
		return ss;

	if (scope_table == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(const char *);
		ctl.entrysize = sizeof(ScopeEntry);
		ctl.hash = scope_key_hash;
		ctl.match = scope_key_compare;
		ctl.hcxt = TopTransactionContext;
		scope_table = hash_create("undoredo scopes of the transaction", 64, &ctl,
								  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE |
								  HASH_CONTEXT);
	}

	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	ss = palloc0(sizeof(ScopeState));
	ss->scope = pstrdup(scope);
	MemoryContextSwitchTo(oldcxt);

	lock_scope_name(scope);
	ss->lock_subid = GetCurrentSubTransactionId();

	entry = hash_search(scope_table, &ss->scope, HASH_ENTER, NULL);
	entry->scope = ss->scope;
	entry->ss = ss;
	touch_scope(ss);
	return ss;
}

/* Does this transaction hold the scope's lock (for Asserts)? */
bool
undoredo_scope_locked(ScopeState *ss)
{
	return !ss->forgotten && undoredo_find_scope_state(ss->scope) == ss;
}

/* The scope's state if this transaction has locked it, else NULL. */
ScopeState *
undoredo_find_scope_state(const char *scope)
{
	ScopeEntry *entry;

	if (scope_table == NULL)
		return NULL;
	entry = hash_search(scope_table, &scope, HASH_FIND, NULL);
	return entry != NULL ? entry->ss : NULL;
}

/*
 * The step this transaction captures into under the locked scope, started
 * on first use.  The scope's id is known (undoredo_access_write).
 */
int64
undoredo_current_step(ScopeState *ss)
{
	Assert(undoredo_scope_locked(ss) && ss->scope_id != 0);
	if (ss->step == 0)
	{
		begin_step(ss);
		ss->step_subid = GetCurrentSubTransactionId();
		touch_scope(ss);
	}
	return ss->step;
}

/*
 * Later captures into this scope start a new step (after undo, redo, clear
 * or the step a revert recorded); if the subtransaction doing this rolls
 * back, the step goes on.  The step's pending changes are written first:
 * left pending, they would be written under no step.  (Callers read the
 * history before, with undoredo_flush_for_reading, which refuses changes
 * of an outer subtransaction that cannot be written yet.)
 */
void
undoredo_close_step(ScopeState *ss)
{
	MemoryContext oldcxt;
	ClosedStep *cs;
	ScopeLevel *level;

	Assert(undoredo_scope_locked(ss));
	flush_pending(ss, false);
	Assert(ss->pending == NIL);
	if (ss->step == 0)
		return;
	touch_scope(ss);
	level = current_level();
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	cs = palloc(sizeof(ClosedStep));
	cs->ss = ss;
	cs->step = ss->step;
	cs->next_seq = ss->next_seq;
	cs->step_subid = ss->step_subid;
	cs->closed_subid = level->subid;
	level->closed = lappend(level->closed, cs);
	MemoryContextSwitchTo(oldcxt);
	ss->step = 0;
}

static void
xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	ScopeLevel *level;
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			/* only the top level is left: its changes are all of them */
			for (level = levels; level != NULL; level = level->outer)
			{
				foreach(lc, level->dirty)
				{
					flush_pending((ScopeState *) lfirst(lc), true);
				}
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (scope_table != NULL)
			{
				HASH_SEQ_STATUS status;
				ScopeEntry *entry;

				hash_seq_init(&status, scope_table);
				while ((entry = (ScopeEntry *) hash_seq_search(&status)) != NULL)
				{
					if (entry->ss->scope_id != 0)
					{
						ScopeRow	row;

						row.owner = entry->ss->owner;
						row.ntables = entry->ss->ntables;
						row.tables = entry->ss->tables;
						undoredo_store_remember_scope(entry->ss->scope,
													  entry->ss->scope_id, &row);
					}
				}
			}
			pg_fallthrough;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* their memory goes with the transaction */
			scope_table = NULL;
			levels = NULL;
			writing_scopes = NIL;
			scope_set_local = NULL;
			undoredo_plans_at_xact_end();
			break;
		default:
			break;
	}
}

/*
 * A subtransaction abort reopens the steps it closed, rolls back the steps
 * it started and releases the locks it took; a commit hands all three to
 * the parent.  Only the scopes it touched are looked at.
 */
static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg pg_attribute_unused())
{
	ScopeLevel *level = levels;
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	if (level == NULL || level->subid != mySubid)
		return;					/* it touched no scope */
	levels = level->outer;

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		int			i;

		/* newest first, so that the first one closed here is reopened */
		for (i = list_length(level->closed) - 1; i >= 0; i--)
		{
			ClosedStep *cs = (ClosedStep *) list_nth(level->closed, i);

			cs->ss->step = cs->step;
			cs->ss->next_seq = cs->next_seq;
			cs->ss->step_subid = cs->step_subid;
		}
		foreach(lc, level->touched)
		{
			ScopeState *ss = (ScopeState *) lfirst(lc);

			if (ss->forgotten)
				continue;
			pending_subxact(ss, false, mySubid, parentSubid);
			row_subxact(ss, false, mySubid, parentSubid);
			if (ss->lock_subid == mySubid)
			{
				/* the lock went with the subtransaction */
				hash_search(scope_table, &ss->scope, HASH_REMOVE, NULL);
				ss->forgotten = true;
				continue;
			}
			if (ss->step != 0 && ss->step_subid == mySubid)
				ss->step = 0;
			if (ss->scope_id != 0 && ss->id_subid == mySubid)
				ss->scope_id = 0;	/* the row it made is gone */
			if (ss->touched_subid == mySubid)
				ss->touched_subid = InvalidSubTransactionId;
			if (ss->dirty_subid == mySubid)
				ss->dirty_subid = InvalidSubTransactionId;
		}
		list_free_deep(level->closed);
		list_free(level->touched);
		list_free(level->dirty);
		pfree(level);
		return;
	}

	foreach(lc, level->closed)
	{
		ClosedStep *cs = (ClosedStep *) lfirst(lc);

		cs->closed_subid = parentSubid;
		/* reopened by an abort of the parent, the step must go with it */
		if (cs->step_subid == mySubid)
			cs->step_subid = parentSubid;
	}
	foreach(lc, level->touched)
	{
		ScopeState *ss = (ScopeState *) lfirst(lc);

		if (ss->forgotten)
			continue;
		pending_subxact(ss, true, mySubid, parentSubid);
		row_subxact(ss, true, mySubid, parentSubid);
		if (ss->lock_subid == mySubid)
			ss->lock_subid = parentSubid;
		if (ss->id_subid == mySubid)
			ss->id_subid = parentSubid;
		if (ss->step_subid == mySubid)
			ss->step_subid = parentSubid;
		if (ss->touched_subid == mySubid)
			ss->touched_subid = parentSubid;
		if (ss->dirty_subid == mySubid)
			ss->dirty_subid = parentSubid;
	}
	if (levels != NULL && levels->subid == parentSubid)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);

		levels->touched = list_concat(levels->touched, level->touched);
		levels->dirty = list_concat(levels->dirty, level->dirty);
		levels->closed = list_concat(levels->closed, level->closed);
		MemoryContextSwitchTo(oldcxt);
		list_free(level->touched);
		list_free(level->dirty);
		list_free(level->closed);
		pfree(level);
	}
	else
	{
		level->subid = parentSubid;
		level->outer = levels;
		levels = level;
	}
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

/* The optional actor argument at argno: NULL when absent or null. */
char *
undoredo_actor_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
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

/*-------------------------------------------------------------------------
 * Pending changes: captured, not yet written to the history
 *-------------------------------------------------------------------------
 */

/*
 * Captured changes are kept in pending chunks and written as one history
 * row per chunk of up to CHUNK_SIZE bytes (the history table's
 * toast_tuple_target lets such a row stay inline and uncompressed).
 */
#define CHUNK_SIZE 8000

/* What a type dictionary of n types adds to a chunk's row: two arrays */
#define TYPES_BYTES(n) ((n) > 0 ? 2 * (24 + 4 * (n)) : 0)

/*
 * What the tables' oids, column names and the origin add to it (relbytes;
 * the room toast_tuple_target leaves above CHUNK_SIZE takes most of the
 * arrays' headers and the origin), counted up to half a chunk: the names
 * of a very wide table are more, and such a row is compressed anyway.
 */
#define RELS_BYTES(chunk) Min((chunk)->relbytes, CHUNK_SIZE / 2)

/*
 * A chunk's data, and an encoded change, begin with VARHDRSZ bytes of room
 * for a varlena header: store.c makes the history row's bytea in place,
 * and a change too large to share a chunk becomes the chunk's data as it
 * is, without a copy of a large value.
 */
#define DATA_BYTES(buf) ((buf)->len - VARHDRSZ)
#define TABLE_BYTES(names) (strlen(names) + 12)
#define ORIGIN_BYTES 40

static PendingChunk *
new_chunk(ScopeState *ss)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	PendingChunk *chunk = palloc(sizeof(PendingChunk));

	chunk->subid = GetCurrentSubTransactionId();
	chunk->first_seq = ss->next_seq;
	chunk->count = 0;
	chunk->nrelids = 0;
	chunk->relbytes = ORIGIN_BYTES;
	chunk->types.ntypes = chunk->types.maxtypes = 0;
	chunk->types.types = NULL;
	initStringInfo(&chunk->data);
	appendStringInfoSpaces(&chunk->data, VARHDRSZ);
	ss->pending = lappend(ss->pending, chunk);
	MemoryContextSwitchTo(oldcxt);
	scope_pending(ss);
	return chunk;
}

static void
free_chunk(PendingChunk *chunk)
{
	int			i;

	for (i = 0; i < chunk->nrelids; i++)
		pfree(chunk->relcolumns[i]);
	if (chunk->data.data != NULL)
		pfree(chunk->data.data);	/* store.c may have taken it */
	if (chunk->types.types != NULL)
		pfree(chunk->types.types);
	pfree(chunk);
}

/* Write a chunk taken off the pending list, and free it. */
static void
write_chunk(ScopeState *ss, PendingChunk *chunk)
{
	Assert(chunk->count == 0 || ss->step != 0);
	if (chunk->count > 0)
		undoredo_store_chunk(ss->scope_id, ss->step, chunk->first_seq, chunk->count,
							 chunk->nrelids, chunk->relids, chunk->relcolumns,
							 &chunk->types, &chunk->data);
	free_chunk(chunk);
}

/*
 * Write the scope's pending chunks: those of the current subtransaction,
 * or all of them (at commit, when only the top level is left).  Chunks of
 * an outer subtransaction stay pending: written here, they would be rolled
 * back with this subtransaction while the changes they record stay.
 */
static void
flush_pending(ScopeState *ss, bool all)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	ListCell   *lc;

	foreach(lc, ss->pending)
	{
		PendingChunk *chunk = (PendingChunk *) lfirst(lc);

		if (!all && chunk->subid != subid)
			continue;
		ss->pending = foreach_delete_current(ss->pending, lc);
		write_chunk(ss, chunk);
	}
}

/*
 * Before undo, redo, clear or undoredo_history read a scope's history,
 * write what this transaction captured into it.  A statement still being
 * captured at an outer level (the reader runs inside one of its triggers)
 * cannot be written yet, nor be undone in halves: that is refused.
 */
void
undoredo_flush_for_reading(ScopeState *ss)
{
	Assert(undoredo_scope_locked(ss));
	flush_pending(ss, false);
	if (ss->pending != NIL ||
		(ss->writing_depth != 0 && ss->writing_depth < statement_depth))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot read the history of \"%s\" while a statement is capturing into it",
						ss->scope),
				 errdetail("The function was called from a trigger or function of a statement on a tracked table under this scope.")));
}

/*
 * A subtransaction ends: on abort its pending changes are forgotten (the
 * rows they record are rolled back too), on commit they pass to the parent.
 */
static void
pending_subxact(ScopeState *ss, bool commit,
				SubTransactionId mySubid, SubTransactionId parentSubid)
{
	ListCell   *lc;

	foreach(lc, ss->pending)
	{
		PendingChunk *chunk = (PendingChunk *) lfirst(lc);

		if (chunk->subid != mySubid)
			continue;
		if (commit)
			chunk->subid = parentSubid;
		else
		{
			ss->pending = foreach_delete_current(ss->pending, lc);
			free_chunk(chunk);
		}
	}
}

/* At the end of every statement, once its AFTER triggers have fired. */
static void
flush_statement(void)
{
	List	   *dirty = take_dirty_scopes();
	ListCell   *lc;

	foreach(lc, dirty)
	{
		flush_pending((ScopeState *) lfirst(lc), false);
	}
	list_free(dirty);
}

/*
 * Statements writing under a scope.  The executor and utility hooks below
 * count how deeply statements nest (statement_depth); the guard of a
 * tracked table marks the scope with the depth of the statement that
 * writes (undoredo_scope_writes), and the mark goes when that statement
 * ends, its AFTER triggers fired.  A reader (undo, redo, clear, history)
 * called at a deeper level, from any trigger or function of that
 * statement, before or after the capture trigger fired for its rows, is
 * refused (undoredo_flush_for_reading).
 */

void
undoredo_scope_writes(ScopeState *ss)
{
	Assert(undoredo_scope_locked(ss));
	if (ss->writing_depth == 0)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);

		writing_scopes = lappend(writing_scopes, ss);
		MemoryContextSwitchTo(oldcxt);
		ss->writing_depth = statement_depth;
	}
}

/* The statement at the current depth ended: its marks go. */
static void
statement_ends(void)
{
	ListCell   *lc;

	foreach(lc, writing_scopes)
	{
		ScopeState *ss = (ScopeState *) lfirst(lc);

		if (ss->writing_depth >= statement_depth)
		{
			ss->writing_depth = 0;
			writing_scopes = foreach_delete_current(writing_scopes, lc);
		}
	}
}


/*
 * Before a statement that writes a tracked Citus table under a scope runs
 * on this node, refuse it when Citus will not send the scope to the
 * workers that capture its rows (citus.c).  Nothing to do without a scope
 * or without Citus.
 */
static void
check_scope_travels(QueryDesc *queryDesc)
{
	const char *propagate;
	ListCell   *lc;

	if (queryDesc->operation == CMD_SELECT &&
		!queryDesc->plannedstmt->hasModifyingCTE)
		return;
	if (undoredo_replaying || !undoredo_scope_active())
		return;
	if (!undoredo_citus_loaded())
		return;
	propagate = GetConfigOption("citus.propagate_set_commands", false, false);
	if (strcmp(propagate, "local") == 0 &&
		scope_set_local != NULL && strcmp(scope_set_local, undoredo_scope) == 0)
		return;
	foreach(lc, queryDesc->plannedstmt->rtable)
	{
		RangeTblEntry *rte = (RangeTblEntry *) lfirst(lc);

		if (rte->rtekind == RTE_RELATION && rte->rellockmode >= RowExclusiveLock &&
			OidIsValid(get_trigger_oid(rte->relid, "undoredo_capture", true)) &&
			undoredo_citus_table(rte->relid))
			undoredo_citus_refuse_untravelled(get_rel_name(rte->relid),
											  undoredo_scope);
	}
}

static ExecutorStart_hook_type prev_ExecutorStart = NULL;

static void
scope_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	check_scope_travels(queryDesc);
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* PostgreSQL 18 dropped ExecutorRun's execute_once */
#if PG_VERSION_NUM >= 180000
#define RUN_PARAMS QueryDesc *queryDesc, ScanDirection direction, uint64 count
#define RUN_ARGS queryDesc, direction, count
#else
#define RUN_PARAMS QueryDesc *queryDesc, ScanDirection direction, uint64 count, \
	bool execute_once
#define RUN_ARGS queryDesc, direction, count, execute_once
#endif

static void
scope_ExecutorRun(RUN_PARAMS)
{
	statement_depth++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(RUN_ARGS);
		else
			standard_ExecutorRun(RUN_ARGS);
	}
	PG_CATCH();
	{
		statement_ends();
		statement_depth--;
		PG_RE_THROW();
	}
	PG_END_TRY();
	statement_depth--;
}

static void
scope_ExecutorFinish(QueryDesc *queryDesc)
{
	statement_depth++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
		flush_statement();
	}
	PG_FINALLY();
	{
		statement_ends();
		statement_depth--;
	}
	PG_END_TRY();
}

/* A SET of undoredo.scope: remember whether it was a SET LOCAL (Citus). */
static void
note_scope_set(Node *parsetree)
{
	VariableSetStmt *vs;

	if (parsetree == NULL || !IsA(parsetree, VariableSetStmt))
		return;
	vs = (VariableSetStmt *) parsetree;
	if (vs->name == NULL || strcmp(vs->name, "undoredo.scope") != 0)
		return;
	if (scope_set_local != NULL)
		pfree(scope_set_local);
	scope_set_local = NULL;
	if (vs->is_local && vs->kind == VAR_SET_VALUE && undoredo_scope != NULL)
		scope_set_local = MemoryContextStrdup(TopTransactionContext,
											  undoredo_scope);
}

/* COPY and other utility statements fire AFTER triggers without ExecutorFinish */
static void
scope_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					   bool readOnlyTree, ProcessUtilityContext context,
					   ParamListInfo params, QueryEnvironment *queryEnv,
					   DestReceiver *dest, QueryCompletion *qc)
{
	statement_depth++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
		flush_statement();
		note_scope_set(pstmt->utilityStmt);
	}
	PG_FINALLY();
	{
		statement_ends();
		statement_depth--;
	}
	PG_END_TRY();
}

void
undoredo_scope_init(void)
{
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = scope_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = scope_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = scope_ExecutorFinish;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = scope_ProcessUtility;
}

/*
 * The position of the table in the chunk's list, added with its column
 * names if missing; -1 when the list is full, or when the table's columns
 * changed since the chunk's first change of it (an ALTER TABLE in between
 * rebuilt its entry): each chunk has one list of names per table.
 */
static int
chunk_relation(PendingChunk *chunk, TableInfo *ti)
{
	int			i;

	for (i = 0; i < chunk->nrelids; i++)
	{
		if (chunk->relids[i] != ti->rootid)
			continue;
		if (chunk->layouts[i] == ti->layout)
			return i;
		/* another entry (a partition), or the same one rebuilt */
		if (strcmp(chunk->relcolumns[i], ti->relcolumns) != 0)
			return -1;
		chunk->layouts[i] = ti->layout;
		return i;
	}
	if (chunk->nrelids == CHUNK_MAX_RELATIONS)
		return -1;
	chunk->relids[chunk->nrelids] = ti->rootid;
	chunk->relcolumns[chunk->nrelids] =
		MemoryContextStrdup(TopTransactionContext, ti->relcolumns);
	chunk->layouts[chunk->nrelids] = ti->layout;
	chunk->relbytes += TABLE_BYTES(ti->relcolumns);
	return chunk->nrelids++;
}

/*
 * Append one encoded row change (capture.c) to the step's pending chunk.
 * The record begins with VARHDRSZ bytes of room, then four bytes that are
 * set here to the position of the tracked table in the chunk's list of
 * tables; the user-defined types its images name join the chunk's type
 * dictionary.  A change too large to share a chunk is written at once as a
 * chunk of its own, its buffer taken as the chunk's data: a large value is
 * not copied again.
 */
void
undoredo_append_change(ScopeState *ss, TableInfo *ti, StringInfo record,
					   const TypeSet *types)
{
	PendingChunk *chunk;
	bool		continues;
	bool		alone;
	int			relation;
	uint32		n32;
	int			i;

	Assert(undoredo_scope_locked(ss) && ss->step != 0);
	chunk = ss->pending != NIL ? llast(ss->pending) : NULL;
	continues = chunk != NULL &&
		chunk->subid == GetCurrentSubTransactionId() &&
		chunk->first_seq + chunk->count == ss->next_seq;
	alone = DATA_BYTES(record) + TYPES_BYTES(types->ntypes) +
		Min(ORIGIN_BYTES + TABLE_BYTES(ti->relcolumns), CHUNK_SIZE / 2) > CHUNK_SIZE;
	if (continues && !alone && DATA_BYTES(&chunk->data) + DATA_BYTES(record) +
		TYPES_BYTES(chunk->types.ntypes + types->ntypes) + RELS_BYTES(chunk) <= CHUNK_SIZE)
		relation = chunk_relation(chunk, ti);
	else
		relation = -1;
	if (continues && relation < 0)
	{
		/*
		 * full, refers to too many tables, or to the table with other
		 * columns: the change starts the next
		 */
		ss->pending = list_delete_last(ss->pending);
		write_chunk(ss, chunk);
	}
	if (relation < 0)
	{
		chunk = new_chunk(ss);
		relation = chunk_relation(chunk, ti);
	}
	n32 = pg_hton32(relation);
	memcpy(record->data + VARHDRSZ, &n32, 4);
	if (alone)
	{
		/* the chunk is new and empty: its data becomes the record */
		pfree(chunk->data.data);
		chunk->data = *record;
		record->data = NULL;
	}
	else
		appendBinaryStringInfo(&chunk->data, record->data + VARHDRSZ,
							   DATA_BYTES(record));
	for (i = 0; i < types->ntypes; i++)
		undoredo_typeset_add(&chunk->types, types->types[i], TopTransactionContext);
	chunk->count++;
	ss->next_seq++;
	if (alone || DATA_BYTES(&chunk->data) + TYPES_BYTES(chunk->types.ntypes) +
		RELS_BYTES(chunk) > CHUNK_SIZE)
	{
		/* one large change (its buffer is not ours to keep past this call) */
		ss->pending = list_delete_last(ss->pending);
		write_chunk(ss, chunk);
	}
}

/* Changes captured into the scope and not written yet (undoredo_history). */
int64
undoredo_scope_pending_changes(ScopeState *ss)
{
	ListCell   *lc;
	int64		count = 0;

	foreach(lc, ss->pending)
	{
		count += ((PendingChunk *) lfirst(lc))->count;
	}
	return count;
}

/* Does a change captured into the scope and not written yet refer to the table? */
bool
undoredo_scope_pending_refers_to(ScopeState *ss, Oid relid)
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
	return false;
}
