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
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "undoredo.h"

PG_FUNCTION_INFO_V1(undoredo_status);
PG_FUNCTION_INFO_V1(undoredo_history);
PG_FUNCTION_INFO_V1(undoredo_clear);

Datum
undoredo_status(PG_FUNCTION_ARGS)
{
	char	   *object_type = undoredo_object_type_arg(fcinfo, 0);
	char	   *object_id = undoredo_object_id_arg(fcinfo, 1);
	int32		counts[2];
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int64		scope_id;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	undoredo_access_check(object_type, object_id, UNDOREDO_ACCESS_READ);
	scope_id = undoredo_scope_for_reading(object_type, object_id);
	undoredo_citus_check_here(object_type, object_id, scope_id);
	undoredo_store_counts(scope_id, undoredo_actor_arg(fcinfo, 2),
						  &counts[0], &counts[1]);
	/* a step committed meanwhile may have brought another table */
	undoredo_access_check(object_type, object_id, UNDOREDO_ACCESS_READ);

	values[0] = Int32GetDatum(counts[0]);
	values[1] = Int32GetDatum(counts[1]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}

Datum
undoredo_history(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *object_type = undoredo_object_type_arg(fcinfo, 0);
	char	   *object_id = undoredo_object_id_arg(fcinfo, 1);
	int64		scope_id;
	ScopeState *ss;

	InitMaterializedSRF(fcinfo, 0);
	undoredo_access_check(object_type, object_id, UNDOREDO_ACCESS_READ);
	scope_id = undoredo_scope_for_reading(object_type, object_id);
	undoredo_citus_check_here(object_type, object_id, scope_id);
	ss = undoredo_find_scope_state(psprintf("%s:%s", object_type, object_id));
	if (scope_id != 0)
	{
		int			nsteps;
		HistoryStep *steps = undoredo_store_history(scope_id, &nsteps);
		int			i;

		for (i = 0; i < nsteps; i++)
		{
			Datum		values[7];
			bool		nulls[7] = {false, false, false, false, false, false, false};
			int64		changes = steps[i].changes;

			if (ss != NULL && steps[i].step == ss->step)
				changes += undoredo_scope_pending_changes(ss);
			values[0] = Int64GetDatum(steps[i].step);
			values[1] = CStringGetTextDatum(steps[i].undoable ? "undo" : "redo");
			if (steps[i].label != NULL)
				values[2] = CStringGetTextDatum(steps[i].label);
			else
				nulls[2] = true;
			values[3] = TimestampTzGetDatum(steps[i].created_at);
			values[4] = Int64GetDatum(changes);
			if (steps[i].actor != NULL)
				values[5] = CStringGetTextDatum(steps[i].actor);
			else
				nulls[5] = true;
			values[6] = Int64GetDatum(steps[i].reverts);
			nulls[6] = steps[i].reverts == 0;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
		}
	}
	/* a step committed meanwhile may have brought another table */
	undoredo_access_check(object_type, object_id, UNDOREDO_ACCESS_READ);
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
	undoredo_citus_check_here(object_type, object_id, UNDOREDO_SCOPE_UNKNOWN);
	ss = undoredo_access_lock_scope(object_type, object_id, UNDOREDO_ACCESS_CLEAR);
	undoredo_flush_for_reading(ss);
	undoredo_store_discard_steps(undoredo_scope_id(ss), true);
	undoredo_store_discard_steps(ss->scope_id, false);
	undoredo_close_step(ss);
	undoredo_access_cleared(ss);
	PG_RETURN_VOID();
}
