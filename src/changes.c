/*-------------------------------------------------------------------------
 *
 * changes.c
 *	  undoredo_changes: what a step changed, for people.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "undoredo.h"

PG_FUNCTION_INFO_V1(undoredo_changes);

Datum
undoredo_changes(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("undoredo_changes is not implemented yet")));
	PG_RETURN_NULL();
}
