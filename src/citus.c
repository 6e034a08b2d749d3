/*-------------------------------------------------------------------------
 *
 * citus.c
 *	  What undoredo knows of Citus: where a scope's history is not.
 *
 * Until undoredo has a Citus mode (docs/citus.md), a history of rows of a
 * distributed table is kept on the worker that holds their shard, where
 * the capture trigger fired.  A call made on the coordinator that Citus
 * did not route to that worker finds no history of the scope there: it
 * would answer for an empty history, (0,0) or nothing, or start one.  The
 * SQL-callable functions refuse it instead, when this node is a Citus
 * coordinator, has no history of the scope, and some tracked table is
 * distributed.  Without Citus installed this costs one catalog lookup per
 * call, and nothing on the capture path.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/extension.h"
#include "executor/spi.h"

#include "undoredo.h"

/*
 * Is this a Citus coordinator on which tracked tables are distributed?
 * Then a scope without a history here has its history on a worker.
 */
static bool
histories_on_workers(void)
{
	bool		found;

	if (!OidIsValid(get_extension_oid("citus", true)))
		return false;
	undoredo_spi_connect();
	if (SPI_execute("SELECT FROM pg_catalog.pg_dist_local_group g"
					" WHERE g.groupid OPERATOR(pg_catalog.=) 0"
					" AND EXISTS (SELECT FROM pg_catalog.pg_trigger t"
					"  JOIN pg_catalog.pg_dist_partition p"
					"  ON p.logicalrelid OPERATOR(pg_catalog.=) t.tgrelid"
					"  WHERE t.tgname OPERATOR(pg_catalog.=) 'undoredo_capture')",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "undoredo: could not read Citus's metadata");
	found = SPI_processed > 0;
	undoredo_spi_finish();
	return found;
}

/*
 * Refuse a call on a scope that has no history on this node (scope_id 0)
 * when its history may be on a Citus worker.
 */
void
undoredo_citus_check_here(const char *object_type, const char *object_id,
						  int64 scope_id)
{
	if (scope_id != 0 || !histories_on_workers())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("the history of \"%s:%s\" is not on this node",
					object_type, object_id),
			 errdetail("This is a Citus coordinator: histories of distributed tables are kept on the workers that hold their shards."),
			 errhint("Call the function through a distributed function routed by the object id (docs/citus.md).")));
}
