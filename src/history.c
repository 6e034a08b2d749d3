/*-------------------------------------------------------------------------
 *
 * history.c
 *	  undoredo_status, undoredo_history and undoredo_clear.
 *
 * All three take the object id as bigint or text (one C function serves
 * both signatures; a bigint is its decimal text) and read the history as
 * the extension owner, so callers need no privilege on the history tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "undoredo.h"

PG_FUNCTION_INFO_V1(undoredo_status);
PG_FUNCTION_INFO_V1(undoredo_history);
PG_FUNCTION_INFO_V1(undoredo_clear);

/*
 * The scope's id, 0 if it has no row.  A transaction that has locked the
 * scope and looked its id up uses that id: capture, undo, redo and clear
 * find the row with the latest snapshot, so under REPEATABLE READ it may
 * have been committed by another transaction (an undo of the brand-new
 * scope, say) after this transaction's snapshot was taken, and a lookup
 * with that snapshot would miss it and hide the transaction's own step.
 * The steps themselves are then read with the transaction's snapshot,
 * which the scope lock and the check in undoredo_scope_id keep in step
 * with the latest state.
 */
static int64
find_scope(const char *object_type, const char *object_id)
{
	const UndoRedoExtension *ext = undoredo_extension();
	ScopeState *ss = undoredo_find_scope_state(psprintf("%s:%s", object_type,
														object_id));
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		isnull;

	if (ss != NULL && ss->scope_id != 0)
		return ss->scope_id;
	values[0] = CStringGetTextDatum(object_type);
	values[1] = CStringGetTextDatum(object_id);
	undoredo_run_as_owner(psprintf("SELECT scope_id FROM %s.undoredo_scope"
								   " WHERE object_type OPERATOR(pg_catalog.=) $1"
								   " AND object_id OPERATOR(pg_catalog.=) $2",
								   ext->qschema),
						  2, argtypes, values, NULL, 1);
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

Datum
undoredo_status(PG_FUNCTION_ARGS)
{
	char	   *object_type = undoredo_object_type_arg(fcinfo, 0);
	char	   *object_id = undoredo_object_id_arg(fcinfo, 1);
	int32		counts[2];
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "undoredo: SPI_connect failed");
	undoredo_access_check(object_type, object_id, UNDOREDO_ACCESS_READ);
	undoredo_counts(find_scope(object_type, object_id), &counts[0], &counts[1]);
	/* a step committed meanwhile may have brought another table */
	undoredo_access_check(object_type, object_id, UNDOREDO_ACCESS_READ);
	SPI_finish();

	values[0] = Int32GetDatum(counts[0]);
	values[1] = Int32GetDatum(counts[1]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}

/* Changes this transaction captured into the scope and has not written. */
static int64
pending_changes(ScopeState *ss)
{
	ListCell   *lc;
	int64		count = 0;

	foreach(lc, ss->pending)
	{
		count += ((PendingChunk *) lfirst(lc))->count;
	}
	return count;
}

Datum
undoredo_history(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *object_type = undoredo_object_type_arg(fcinfo, 0);
	char	   *object_id = undoredo_object_id_arg(fcinfo, 1);
	const UndoRedoExtension *ext;
	int64		scope_id;
	ScopeState *ss;
	uint64		i;

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "undoredo: SPI_connect failed");
	undoredo_access_check(object_type, object_id, UNDOREDO_ACCESS_READ);
	ext = undoredo_extension();
	scope_id = find_scope(object_type, object_id);
	ss = undoredo_find_scope_state(psprintf("%s:%s", object_type, object_id));
	if (scope_id != 0)
	{
		Oid			argtypes[1] = {INT8OID};
		Datum		args[1];

		args[0] = Int64GetDatum(scope_id);
		undoredo_run_as_owner(psprintf("SELECT a.step, a.state, a.label, a.created_at,"
									   " (SELECT COALESCE(pg_catalog.sum(c.nchanges), 0)"
									   "  FROM %s.undoredo_change c"
									   "  WHERE c.step OPERATOR(pg_catalog.=) a.step)"
									   " FROM (SELECT step, 'undo'::pg_catalog.text AS state, label, created_at"
									   "       FROM %s.undo_action WHERE scope_id OPERATOR(pg_catalog.=) $1"
									   "       UNION ALL"
									   "       SELECT step, 'redo', label, created_at"
									   "       FROM %s.redo_action WHERE scope_id OPERATOR(pg_catalog.=) $1) a"
									   " ORDER BY a.step",
									   ext->qschema, ext->qschema, ext->qschema),
							  1, argtypes, args, NULL, 0);
		for (i = 0; i < SPI_processed; i++)
		{
			Datum		values[5];
			bool		nulls[5];
			int			col;

			for (col = 0; col < 5; col++)
				values[col] = SPI_getbinval(SPI_tuptable->vals[i],
											SPI_tuptable->tupdesc, col + 1,
											&nulls[col]);
			if (ss != NULL && DatumGetInt64(values[0]) == ss->step)
				values[4] = Int64GetDatum(DatumGetInt64(values[4]) +
										  pending_changes(ss));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
		}
	}
	/* a step committed meanwhile may have brought another table */
	undoredo_access_check(object_type, object_id, UNDOREDO_ACCESS_READ);
	SPI_finish();
	return (Datum) 0;
}

Datum
undoredo_clear(PG_FUNCTION_ARGS)
{
	char	   *object_type = undoredo_object_type_arg(fcinfo, 0);
	char	   *object_id = undoredo_object_id_arg(fcinfo, 1);
	ScopeState *ss;

	if (undoredo_replaying)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot clear a history while an undo or redo is replaying"),
				 errdetail("The function was called from a trigger or function that runs during undoredo_undo or undoredo_redo.")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "undoredo: SPI_connect failed");
	ss = undoredo_access_lock_scope(object_type, object_id, UNDOREDO_ACCESS_CLEAR);
	undoredo_flush_for_reading(ss);
	undoredo_discard_steps("undo_action", undoredo_scope_id(ss));
	undoredo_discard_steps("redo_action", ss->scope_id);
	undoredo_close_step(ss);
	undoredo_access_cleared(ss);
	SPI_finish();
	PG_RETURN_VOID();
}
