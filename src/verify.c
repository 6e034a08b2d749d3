/*-------------------------------------------------------------------------
 *
 * verify.c
 *	  undoredo_verify: why a write could change tracked data uncaptured.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "undoredo.h"

PG_FUNCTION_INFO_V1(undoredo_verify);

Datum
undoredo_verify(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("undoredo_verify is not implemented yet")));
	PG_RETURN_NULL();
}
