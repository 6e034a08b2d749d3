/*-------------------------------------------------------------------------
 *
 * citus.c
 *	  What undoredo knows of Citus: where a scope's history is not, and
 *	  which object's rows a shard holds.
 *
 * Until undoredo has a Citus mode (docs/citus.md), a history of rows of a
 * distributed table is kept on the worker that holds their shard, where
 * the capture trigger fired.  A call made on the coordinator that Citus
 * did not route to that worker finds no history of the scope there: it
 * would answer for an empty history, (0,0) or nothing, or start one.  The
 * SQL-callable functions refuse it instead, when this node is a Citus
 * coordinator, has no history of the scope, and some tracked table is
 * distributed.  Without Citus loaded this costs a setting lookup per call
 * (undoredo_citus_loaded), and nothing on the capture path.
 *
 * A step is kept on one node, so it may change the rows of its own object
 * only: capture on a shard of a table distributed by the object's key
 * refuses a row of another object (which may live on another node, and
 * would be recorded there as a step apart), and capture on a shard of a
 * reference table (a copy on every node, each of which would record it)
 * refuses every row.  Which column a shard is distributed by is looked up
 * once per relcache entry (tableinfo.c); a table that is not a shard costs
 * nothing per row.
 *
 * undoredo_track and undoredo_untrack of a table Citus has distributed
 * already go through here: Citus refuses triggers on it unless
 * citus.enable_unsafe_triggers is on, and then copies the capture trigger
 * to the shards but never the guard (a TRUNCATE trigger), so the guard is
 * put on, and taken off, every placement with Citus's
 * run_command_on_placements.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "undoredo.h"

/*
 * Is this a Citus coordinator on which tracked tables are distributed?
 * Then a scope without a history here has its history on a worker.
 */
static bool
histories_on_workers(void)
{
	bool		found;

	if (!undoredo_citus_loaded())
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
 * when its history may be on a Citus worker.  UNDOREDO_SCOPE_UNKNOWN: not
 * looked up yet; it is looked up (as last committed) only on such a
 * coordinator.  (A scope of a type registered for Citus is refused where
 * its shards are not, by store.c, when it is looked up.)
 */
void
undoredo_citus_check_here(const char *object_type, const char *object_id,
						  int64 scope_id)
{
	int			ntables;
	Oid		   *tables;

	if ((scope_id != 0 && scope_id != UNDOREDO_SCOPE_UNKNOWN) ||
		!histories_on_workers())
		return;
	if (scope_id == UNDOREDO_SCOPE_UNKNOWN &&
		undoredo_store_scope_tables(object_type, object_id, true,
									&ntables, &tables) != 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("the history of \"%s:%s\" is not on this node",
					object_type, object_id),
			 errdetail("This is a Citus coordinator: histories of distributed tables are kept on the workers that hold their shards."),
			 errhint("Call the function through a distributed function routed by the object id (docs/citus.md).")));
}

/*
 * If rel is a shard of a Citus table (placement.c), the attnum of the
 * column its table is distributed by, or -1 when the table is not
 * distributed by a column (a reference table); 0 when rel is not a shard.
 */
AttrNumber
undoredo_citus_shard_key(Relation rel)
{
	Oid			table;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	AttrNumber	attnum = 0;

	if (!undoredo_citus_loaded())
		return 0;
	table = undoredo_placement_logical_table(RelationGetRelid(rel));
	if (table == RelationGetRelid(rel))
		return 0;
	values[0] = ObjectIdGetDatum(table);
	undoredo_spi_connect();
	if (SPI_execute_with_args("SELECT p.partmethod OPERATOR(pg_catalog.=) 'h',"
							  " pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)"
							  " FROM pg_catalog.pg_dist_partition p"
							  " WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "undoredo: could not read Citus's metadata");
	if (SPI_processed > 0)
	{
		bool		isnull;
		bool		hashed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc,
														1, &isnull));
		char	   *column = SPI_getvalue(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 2);

		attnum = -1;
		if (hashed && column != NULL)
		{
			attnum = get_attnum(RelationGetRelid(rel), column);
			if (attnum == InvalidAttrNumber)
				attnum = -1;
		}
	}
	undoredo_spi_finish();
	return attnum;
}

/*
 * A captured row of a Citus shard must belong to the scope's object: its
 * distribution column holds the object id.  Rows of a reference table are
 * refused.  Nothing to check for a table that is not a shard.
 */
void
undoredo_citus_check_row(TableInfo *ti, Relation rel, HeapTuple tuple,
						 const char *scope)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Datum		value;
	bool		isnull;
	char	   *have;
	Oid			outfn;
	bool		varlena;

	if (ti->citus_key == 0 || tuple == NULL)
		return;
	if (ti->citus_key > 0 &&
		!OidIsValid(undoredo_placement_history_table(pnstrdup(scope, strchr(scope, ':') - scope),
													 "scope")))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot capture a change of \"%s\" under undoredo.scope \"%s\"",
						RelationGetRelationName(rel), scope),
				 errdetail("The table is distributed by Citus and the scope's object type is not registered for Citus: its history would stay on this node when the shard moves."),
				 errhint("Register the object type on the coordinator with undoredo_citus_register."),
				 errtable(rel)));
	if (ti->citus_key < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot capture a change of \"%s\" under undoredo.scope \"%s\"",
						RelationGetRelationName(rel), scope),
				 errdetail("The table is a Citus table not distributed by an object's key, such as a reference table, with a copy on each node; a step is kept on one node."),
				 errtable(rel)));
	value = heap_getattr(tuple, ti->citus_key, desc, &isnull);
	if (isnull)
		have = NULL;
	else
	{
		getTypeOutputInfo(TupleDescAttr(desc, ti->citus_key - 1)->atttypid,
						  &outfn, &varlena);
		have = OidOutputFunctionCall(outfn, value);
	}
	if (have == NULL || strcmp(have, strchr(scope, ':') + 1) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot capture a change of object %s of table \"%s\" under undoredo.scope \"%s\"",
						have != NULL ? have : "null", RelationGetRelationName(rel),
						scope),
				 errdetail("On Citus a step is kept on the node that holds its object's rows, so it may change the rows of its own object only."),
				 errtable(rel)));
}

/*
 * Is relid a Citus table (distributed or reference)?  Called for tracked
 * tables a statement writes while a scope is set, where Citus is loaded
 * (undoredo_citus_loaded).
 */
bool
undoredo_citus_table(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	bool		found;

	values[0] = ObjectIdGetDatum(relid);
	undoredo_spi_connect();
	if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_dist_partition"
							  " WHERE logicalrelid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "undoredo: could not read Citus's metadata");
	found = SPI_processed > 0;
	undoredo_spi_finish();
	return found;
}

/*
 * A statement writes the Citus table relname under a scope that Citus
 * will not send to the workers where the rows are captured: refuse it
 * rather than capture nothing.  Citus sends SET LOCAL statements only
 * (with citus.propagate_set_commands = 'local'), not set_config() calls
 * and not session SETs.
 */
void
undoredo_citus_refuse_untravelled(const char *relname, const char *scope)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("undoredo.scope \"%s\" does not reach the Citus workers that hold table \"%s\"",
					scope, relname),
			 errdetail("Citus sends only SET LOCAL statements to the workers, and only while citus.propagate_set_commands is 'local'; nothing would be captured."),
			 errhint("Set the scope with SET LOCAL undoredo.scope in the transaction, with citus.propagate_set_commands set to 'local'.")));
}

/* s with every % doubled: a literal part of a format() string */
static char *
format_escaped(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (; *s != '\0'; s++)
	{
		if (*s == '%')
			appendStringInfoChar(&buf, '%');
		appendStringInfoChar(&buf, *s);
	}
	return buf.data;
}

/*
 * Run a command on every placement of a Citus table's shards ("%s" is the
 * shard's name), through Citus's run_command_on_placements, which opens
 * connections of its own: the command commits on each placement whatever
 * this transaction does later.  It must run before this transaction
 * changes the table's triggers, whose locks on the shards it would wait
 * for.
 */
static void
on_placements(Oid relid, const char *command)
{
	Oid			argtypes[2] = {REGCLASSOID, TEXTOID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(command);
	undoredo_spi_connect();
	if (SPI_execute_with_args("SELECT p.shardid, p.nodename, p.nodeport, p.result"
							  " FROM pg_catalog.run_command_on_placements($1, $2) p"
							  " WHERE NOT p.success LIMIT 1",
							  2, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "undoredo: could not run a command on the shards of a Citus table");
	if (SPI_processed > 0)
	{
		HeapTuple	tuple = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not change the triggers of shard %s of table \"%s\" on %s:%s",
						SPI_getvalue(tuple, desc, 1), get_rel_name(relid),
						SPI_getvalue(tuple, desc, 2), SPI_getvalue(tuple, desc, 3)),
				 errdetail("%s", SPI_getvalue(tuple, desc, 4))));
	}
	undoredo_spi_finish();
}

/*
 * Run trigger DDL on a Citus table with citus.enable_unsafe_triggers on
 * for this command only: Citus then creates or drops a row trigger on
 * every shard too, in this transaction.  (It leaves out triggers with a
 * TRUNCATE event: "we don't have truncate triggers on shard relations".)
 */
static void
unsafe_trigger_ddl(const char *sql)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("citus.enable_unsafe_triggers", "on",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	undoredo_spi_connect();
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "undoredo: could not run \"%s\"", sql);
	undoredo_spi_finish();
	AtEOXact_GUC(true, nestlevel);
}

/*
 * undoredo_track of a table that Citus has distributed already (before
 * distribution PostgreSQL's triggers are copied with the table).  Citus
 * refuses triggers on such a table unless citus.enable_unsafe_triggers is
 * on, and when it is, copies the capture trigger to the shards but not
 * the guard, a TRUNCATE trigger: the guard goes to every placement first,
 * on its own connections (a guard without the capture trigger beside it
 * does nothing, should this transaction roll back), then both triggers to
 * the distributed table, the capture trigger reaching the shards with
 * it.  The guard on the coordinator's table refuses a TRUNCATE there.
 * Shards made later (splits, moves) are made from the coordinator's table
 * with both.  The capture trigger carries the table's id for Citus mode
 * (placement.c); a table tracked before it was distributed, whose trigger
 * has none, is given one when it is tracked again (again: its capture
 * trigger is replaced, the guards are there).
 */
void
undoredo_citus_track(Oid relid, const char *qname, const char *qschema,
					 bool again)
{
	on_placements(relid,
				  psprintf("CREATE OR REPLACE TRIGGER undoredo_guard"
						   " BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %%1$s"
						   " FOR EACH STATEMENT EXECUTE FUNCTION %s.undoredo_capture()",
						   format_escaped(qschema)));
	if (again)
		unsafe_trigger_ddl(psprintf("DROP TRIGGER undoredo_capture ON %s", qname));
	/* the table id (placement.c): this table's oid on the coordinator */
	unsafe_trigger_ddl(psprintf("CREATE TRIGGER undoredo_capture"
								" AFTER INSERT OR UPDATE OR DELETE ON %s"
								" FOR EACH ROW EXECUTE FUNCTION %s.undoredo_capture('%u')",
								qname, qschema, relid));
	unsafe_trigger_ddl(psprintf("CREATE OR REPLACE TRIGGER undoredo_guard"
								" BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s"
								" FOR EACH STATEMENT EXECUTE FUNCTION %s.undoredo_capture()",
								qname, qschema));
}

/*
 * undoredo_untrack of a distributed table: the guards of the placements
 * first, on their own connections (Citus would not drop them: a TRUNCATE
 * trigger), then both triggers of the distributed table, the capture
 * trigger leaving its shards with it.
 */
void
undoredo_citus_untrack(Oid relid, const char *qname, const char *qschema)
{
	/*
	 * A guard copied to a shard by create_distributed_table is named after
	 * the shard: drop the statement triggers of the shard that call the
	 * capture function, whatever their names.
	 */
	char	   *capture = quote_literal_cstr(psprintf("%s.undoredo_capture()", qschema));

	on_placements(relid,
				  psprintf("DO $undoredo$DECLARE t pg_catalog.name; BEGIN"
						   " FOR t IN SELECT g.tgname FROM pg_catalog.pg_trigger g"
						   " WHERE g.tgrelid OPERATOR(pg_catalog.=) %%1$L::pg_catalog.regclass"
						   " AND g.tgfoid OPERATOR(pg_catalog.=) %s::pg_catalog.regprocedure"
						   " AND NOT g.tgisinternal"
						   " AND (g.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 1) OPERATOR(pg_catalog.=) 0"
						   " LOOP EXECUTE pg_catalog.format('DROP TRIGGER %%%%I ON %%1$s', t);"
						   " END LOOP; END$undoredo$",
						   format_escaped(capture)));
	unsafe_trigger_ddl(psprintf("DROP TRIGGER undoredo_capture ON %s", qname));
	unsafe_trigger_ddl(psprintf("DROP TRIGGER IF EXISTS undoredo_guard ON %s", qname));
}

/* Run a statement of undoredo_citus_register, connected to SPI. */
static void
register_sql(const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	int			rc = SPI_execute_with_args(sql, nargs, argtypes, values, NULL,
										   false, 0);

	if (rc < 0)
		elog(ERROR, "undoredo: could not run \"%s\": %s", sql,
			 SPI_result_code_string(rc));
}

/*
 * undoredo_citus_register(object_type text, colocate_with regclass): Citus
 * mode for an object type (docs/citus.md, placement.c).  On the
 * coordinator, by the extension's owner: creates the type's four history
 * tables, distributed by the object id and co-located with colocate_with,
 * which must be hash-distributed by a bigint column; makes undoredo's
 * functions of a scope (their bigint overloads) distributed functions
 * routed by the object id through that co-location group, unless they are
 * already.  Citus routes a call by the value of
 * object_id alone, so every registered type must be in the one group.
 */
PG_FUNCTION_INFO_V1(undoredo_citus_register);

Datum
undoredo_citus_register(PG_FUNCTION_ARGS)
{
	char	   *object_type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			colocate = PG_GETARG_OID(1);
	const UndoRedoExtension *ext = undoredo_extension();
	static const char *const functions[] = {
		"undoredo_undo(text, bigint, integer, text)",
		"undoredo_redo(text, bigint, integer, text)",
		"undoredo_status(text, bigint, text)",
		"undoredo_history(text, bigint)",
		"undoredo_clear(text, bigint)",
		"undoredo_changes(text, bigint, bigint)",
		"undoredo_revert(text, bigint, bigint)"
	};
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	char	   *qcolocate;
	char	   *prefix;
	bool		isnull;
	int64		colocation;
	UserContext saved;
	int			i;

	if (!undoredo_citus_loaded())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("Citus is not installed in this database")));
	if (!has_privs_of_role(GetUserId(), ext->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to register object type \"%s\" for Citus",
						object_type),
				 errdetail("Only the owner of extension undoredo may register an object type.")));
	if (!undoredo_placement_type_name_ok(object_type))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("object type \"%s\" cannot be registered for Citus", object_type),
				 errdetail("The name of a registered object type names its history tables: it must be 1 to %d lower-case letters, digits and underscores.",
						   UNDOREDO_MAX_TYPE_NAME)));
	if (OidIsValid(undoredo_placement_history_table(object_type, "scope")))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("object type \"%s\" is registered for Citus already", object_type)));

	undoredo_spi_connect();
	if (SPI_execute("SELECT FROM pg_catalog.pg_dist_local_group"
					" WHERE groupid OPERATOR(pg_catalog.=) 0", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "undoredo: could not read Citus's metadata");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("an object type can be registered for Citus on the coordinator only")));
	values[0] = ObjectIdGetDatum(colocate);
	if (SPI_execute_with_args("SELECT p.colocationid::pg_catalog.int8,"
							  " p.partmethod OPERATOR(pg_catalog.=) 'h'"
							  " AND a.atttypid OPERATOR(pg_catalog.=) 'pg_catalog.int8'::pg_catalog.regtype"
							  " FROM pg_catalog.pg_dist_partition p"
							  " LEFT JOIN pg_catalog.pg_attribute a"
							  " ON a.attrelid OPERATOR(pg_catalog.=) p.logicalrelid"
							  " AND a.attname OPERATOR(pg_catalog.=)"
							  "  pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)"
							  " WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "undoredo: could not read Citus's metadata");
	if (SPI_processed == 0 ||
		!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
									&isnull)) || isnull)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table \"%s\" is not distributed by a bigint column",
						get_rel_name(colocate)),
				 errdetail("The history of a registered object type is co-located with a table hash-distributed by the object id, a bigint as undoredo_undo's object_id, by which Citus routes the call.")));
	colocation = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));

	/* the functions of a scope: routed through one group only */
	values[1] = CStringGetTextDatum(psprintf("%s.%s", ext->qschema, functions[0]));
	argtypes[0] = INT8OID;
	values[0] = Int64GetDatum(colocation);
	if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_dist_object o"
							  " WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass"
							  " AND o.objid OPERATOR(pg_catalog.=) $2::pg_catalog.regprocedure"
							  " AND o.colocationid IS NOT NULL"
							  " AND o.colocationid::pg_catalog.int8 OPERATOR(pg_catalog.<>) $1",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "undoredo: could not read Citus's metadata");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table \"%s\" is not co-located with the object types registered for Citus already",
						get_rel_name(colocate)),
				 errdetail("Citus routes undoredo's functions by the object id alone, through one co-location group: every registered object type must be co-located with the same tables.")));

	qcolocate = quote_qualified_identifier(get_namespace_name(get_rel_namespace(colocate)),
										   get_rel_name(colocate));
	prefix = psprintf("%s.%s", ext->qschema,
					  quote_identifier(psprintf("undoredo_%s", object_type)));
	undoredo_become_owner(&saved);

	/*
	 * The tables of undoredo--1.3.sql's history, keyed by the object id
	 * (scope_id), with no column that Citus would copy as a node's oid.
	 */
	register_sql(psprintf("CREATE TABLE %s_scope (scope_id bigint NOT NULL,"
						  " object_type text NOT NULL, object_id text NOT NULL,"
						  " owner text, relids oid[] NOT NULL DEFAULT '{}',"
						  " next_step bigint NOT NULL DEFAULT 0,"
						  " PRIMARY KEY (scope_id))",
						  prefix), 0, NULL, NULL);
	register_sql(psprintf("CREATE TABLE %s_undo (scope_id bigint NOT NULL,"
						  " step bigint NOT NULL, label text,"
						  " created_at timestamptz NOT NULL, actor text, reverts bigint,"
						  " PRIMARY KEY (scope_id, step))",
						  prefix), 0, NULL, NULL);
	register_sql(psprintf("CREATE TABLE %s_redo (scope_id bigint NOT NULL,"
						  " step bigint NOT NULL, label text,"
						  " created_at timestamptz NOT NULL, actor text, reverts bigint,"
						  " undone bigint NOT NULL,"
						  " PRIMARY KEY (scope_id, step), UNIQUE (scope_id, undone))",
						  prefix), 0, NULL, NULL);
	register_sql(psprintf("CREATE TABLE %s_change (scope_id bigint NOT NULL,"
						  " step bigint NOT NULL, seq integer NOT NULL,"
						  " nchanges integer NOT NULL, relids oid[] NOT NULL,"
						  " changes bytea NOT NULL, typoids oid[], types text[],"
						  " reloids oid[], relcolumns text[], origin text,"
						  " PRIMARY KEY (scope_id, step, seq))"
						  " WITH (toast_tuple_target = 8160)",
						  prefix), 0, NULL, NULL);
	argtypes[0] = TEXTOID;
	argtypes[1] = TEXTOID;
	values[1] = CStringGetTextDatum(qcolocate);
	for (i = 0; i < 4; i++)
	{
		static const char *const parts[] = {"scope", "undo", "redo", "change"};
		char	   *table = psprintf("%s_%s", prefix, parts[i]);

		register_sql(psprintf("REVOKE ALL ON %s FROM PUBLIC", table), 0, NULL, NULL);
		values[0] = CStringGetTextDatum(table);
		register_sql("SELECT pg_catalog.create_distributed_table($1::pg_catalog.regclass,"
					 " 'scope_id', colocate_with => $2)", 2, argtypes, values);
	}
	for (i = 0; i < (int) lengthof(functions); i++)
	{
		values[0] = CStringGetTextDatum(psprintf("%s.%s", ext->qschema, functions[i]));
		register_sql("SELECT pg_catalog.create_distributed_function($1::pg_catalog.regprocedure,"
					 " 'object_id', colocate_with => $2, force_delegation => true)"
					 " WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_dist_object o"
					 "  WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass"
					 "  AND o.objid OPERATOR(pg_catalog.=) $1::pg_catalog.regprocedure"
					 "  AND o.colocationid IS NOT NULL)",
					 2, argtypes, values);
	}
	undoredo_restore_user(&saved);
	undoredo_spi_finish();
	PG_RETURN_VOID();
}
