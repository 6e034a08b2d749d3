/*-------------------------------------------------------------------------
 *
 * capture.c
 *	  The capture trigger, and undoredo_track/undoredo_untrack that install
 *	  and remove it.
 *
 * undoredo_track creates two triggers on the table, both calling
 * undoredo_capture:
 *	- undoredo_capture, AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW.  On a
 *	  partitioned table PostgreSQL clones it to every partition, present and
 *	  future; following a clone's parent triggers up to the original tells
 *	  which tracked table to image rows for.  (No table oid is stored in the
 *	  trigger: it would not survive pg_dump and restore.)
 *	- undoredo_guard, BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE FOR EACH
 *	  STATEMENT, on the table and its partitions (an event trigger of the
 *	  install script adds it to partitions made later).  Under a scope it
 *	  takes the scope lock before the statement locks any row, the order
 *	  undo and redo use too, so a capture and an undo of one scope wait for
 *	  each other instead of deadlocking.  TRUNCATE cannot be captured, so it
 *	  is refused while a scope is set.
 *
 * While undoredo.scope is set and no replay runs, the row trigger appends
 * one row change to the transaction's current step of that scope
 * (scope.c starts it on first use).  Being an AFTER trigger it sees every
 * statement form, cascaded foreign-key actions and changes made by other
 * triggers, from any client.
 *
 * The encoded change goes to the scope's pending chunk (scope.c), which
 * writes it to the history in chunks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "commands/extension.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "tcop/deparse_utility.h"
#include "tcop/utility.h"
#include "access/xact.h"
#include "libpq/pqformat.h"
#include "utils/memutils.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "access/htup_details.h"
#include "utils/combocid.h"

#include "undoredo.h"

PG_FUNCTION_INFO_V1(undoredo_capture);
PG_FUNCTION_INFO_V1(undoredo_track);
PG_FUNCTION_INFO_V1(undoredo_untrack);
PG_FUNCTION_INFO_V1(undoredo_forget_detached);

#define CAPTURE_TRIGGER "undoredo_capture"
#define GUARD_TRIGGER "undoredo_guard"

/*
 * Append one row change to the step's pending chunk: the position of the
 * tracked table in the chunk's list of tables, the kind of change and the
 * row images it needs; the user-defined types the images name join the
 * chunk's type dictionary.  The change is encoded first, so that an update
 * that changed nothing starts no step.
 */
static void
record_change(const char *scope, TableInfo *ti, char op, HeapTuple oldtup,
			  HeapTuple newtup)
{
	StringInfoData record;
	TypeSet		types = {0, 0, NULL};
	ScopeState *ss;

	initStringInfo(&record);
	appendStringInfoSpaces(&record, VARHDRSZ);	/* room: scope.c */
	pq_sendint32(&record, 0);	/* the table's position, set by scope.c */
	pq_sendbyte(&record, op);
	if (op == 'i')
		undoredo_image_append_full(&record, &types, ti, newtup);
	else if (op == 'd')
		undoredo_image_append_full(&record, &types, ti, oldtup);
	else if (!undoredo_image_append_update(&record, &types, ti, oldtup, newtup))
		return;					/* no column changed: nothing to record */

	ss = undoredo_lock_scope(scope);
	/* the scope's id, its owner, the writer's membership, its tables */
	undoredo_access_write(ss, ti->rootid);
	(void) undoredo_current_step(ss);
	undoredo_append_change(ss, ti, &record, &types);
}

/*
 * The table a capture trigger was created on by undoredo_track: the trigger's
 * own table, or for a clone on a partition, that of its topmost parent
 * trigger.
 */
static Oid
tracked_table(Oid tgoid, Oid relid)
{
	Relation	tgrel = table_open(TriggerRelationId, AccessShareLock);

	for (;;)
	{
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tuple;
		Form_pg_trigger form;

		ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(tgoid));
		scan = systable_beginscan(tgrel, TriggerOidIndexId, true, NULL, 1, &key);
		tuple = systable_getnext(scan);
		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "could not find trigger %u", tgoid);
		form = (Form_pg_trigger) GETSTRUCT(tuple);
		relid = form->tgrelid;
		tgoid = form->tgparentid;
		systable_endscan(scan);
		if (!OidIsValid(tgoid))
			break;
	}
	table_close(tgrel, AccessShareLock);
	return relid;
}

/*
 * Do tables inherit from this plain table (INHERITS, not partitioning)?
 * relhassubclass is only a hint (it stays set after the last child goes),
 * so when it is set pg_inherits tells.
 */
static bool
has_inheritance_children(Relation rel)
{
	List	   *children;
	bool		result;

	if (rel->rd_rel->relkind != RELKIND_RELATION || !rel->rd_rel->relhassubclass)
		return false;
	children = find_inheritance_children(RelationGetRelid(rel), NoLock);
	result = children != NIL;
	list_free(children);
	return result;
}

/* "(a, b)=(1, x)" of a row's primary key, for messages */
static char *
row_key_text(Relation rel, HeapTuple tuple)
{
	Oid			pkoid = undoredo_primary_key(rel);
	Relation	pkrel;
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData names;
	StringInfoData vals;
	int			i;

	if (!OidIsValid(pkoid))
		return pstrdup("(?)");
	pkrel = index_open(pkoid, AccessShareLock);
	initStringInfo(&names);
	initStringInfo(&vals);
	for (i = 0; i < pkrel->rd_index->indnkeyatts; i++)
	{
		AttrNumber	attnum = pkrel->rd_index->indkey.values[i];
		Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
		bool		isnull;
		Datum		value = heap_getattr(tuple, attnum, desc, &isnull);
		Oid			outfn;
		bool		varlena;

		getTypeOutputInfo(att->atttypid, &outfn, &varlena);
		appendStringInfo(&names, "%s%s", i ? ", " : "", NameStr(att->attname));
		appendStringInfo(&vals, "%s%s", i ? ", " : "",
						 isnull ? "null" : OidOutputFunctionCall(outfn, value));
	}
	index_close(pkrel, AccessShareLock);
	return psprintf("(%s)=(%s)", names.data, vals.data);
}

/*
 * While a replayed step's queued AFTER triggers fire: a row of a tracked
 * table changed after the step's own statements was changed by a foreign
 * key action (ON DELETE CASCADE, SET NULL, ...) or a trigger, not by the
 * replay: undo and redo change only the rows their steps recorded, so this
 * is a conflict unless undoredo.on_conflict is overwrite.  The row's
 * command id tells: the deleting one of a deleted row, the inserting one
 * of an inserted or updated row.
 */
static void
check_replay_row(TriggerData *trigdata)
{
	HeapTuple	tuple;
	CommandId	cid;

	if (undoredo_replay_firing.overwrite)
		return;
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		tuple = trigdata->tg_trigtuple;
		cid = HeapTupleHeaderGetCmax(tuple->t_data);
	}
	else
	{
		tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
			trigdata->tg_newtuple : trigdata->tg_trigtuple;
		cid = HeapTupleHeaderGetCmin(tuple->t_data);
	}
	if (cid <= undoredo_replay_firing.last_cid)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_UNDOREDO_CONFLICT),
			 undoredo_reverting() != NULL ?
			 errmsg("cannot revert step " INT64_FORMAT ": it would change row %s of table \"%s\", which the step did not record",
					undoredo_replay_firing.step,
					row_key_text(trigdata->tg_relation, tuple),
					RelationGetRelationName(trigdata->tg_relation)) :
			 undoredo_replay_firing.undo ?
			 errmsg("cannot undo step " INT64_FORMAT ": it would change row %s of table \"%s\", which the step did not record",
					undoredo_replay_firing.step,
					row_key_text(trigdata->tg_relation, tuple),
					RelationGetRelationName(trigdata->tg_relation)) :
			 errmsg("cannot redo step " INT64_FORMAT ": it would change row %s of table \"%s\", which the step did not record",
					undoredo_replay_firing.step,
					row_key_text(trigdata->tg_relation, tuple),
					RelationGetRelationName(trigdata->tg_relation)),
			 errdetail("A foreign key action (ON DELETE or ON UPDATE CASCADE, SET NULL, SET DEFAULT) or a trigger fired by the replay changes a row that was changed outside this history."),
			 errhint("SET undoredo.on_conflict = 'overwrite' to let it proceed.")));
}

static bool
has_trigger(Relation rel, const char *name)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	int			i;

	if (trigdesc == NULL)
		return false;
	for (i = 0; i < trigdesc->numtriggers; i++)
		if (strcmp(trigdesc->triggers[i].tgname, name) == 0)
			return true;
	return false;
}

/* Does the table have a row trigger that calls the function (ours)? */
static bool
has_capture_trigger(Relation rel, Oid fnoid)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	int			i;

	if (trigdesc == NULL)
		return false;
	for (i = 0; i < trigdesc->numtriggers; i++)
		if (trigdesc->triggers[i].tgfoid == fnoid &&
			TRIGGER_FOR_ROW(trigdesc->triggers[i].tgtype))
			return true;
	return false;
}

/* Is this write to be captured (or TRUNCATE refused)? */
static bool
capturing(void)
{
	return !undoredo_replaying && undoredo_scope_active();
}

Datum
undoredo_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TableInfo  *ti;
	HeapTuple	oldtup = NULL;
	HeapTuple	newtup = NULL;
	char		op;
	const char *scope;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("undoredo_capture: not called by trigger manager")));
	rel = trigdata->tg_relation;

	/*
	 * A guard left on a table that is no longer part of a tracked tree (a
	 * partition detached while event triggers did not fire, or before they
	 * removed guards) does nothing: no scope lock, no TRUNCATE refusal.
	 * The capture trigger is found by its function, not by its name: a
	 * copy of the table's triggers may be named otherwise (Citus names the
	 * triggers of a shard after the shard).
	 */
	if (TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) &&
		!has_capture_trigger(rel, fcinfo->flinfo->fn_oid))
		return PointerGetDatum(NULL);

	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
	{
		if (capturing())
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot truncate tracked table \"%s\" while undoredo.scope is set",
							RelationGetRelationName(rel)),
					 errdetail("TRUNCATE cannot be captured as an undo step."),
					 errhint("Use DELETE to make an undoable change, or RESET undoredo.scope first.")));
		return PointerGetDatum(NULL);
	}

	if (TRIGGER_FIRED_BEFORE(trigdata->tg_event) &&
		TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
	{
		if (capturing())
		{
			if (has_inheritance_children(rel))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot write to tracked table \"%s\" while undoredo.scope is set, because other tables inherit from it",
								RelationGetRelationName(rel)),
						 errdetail("The statement could change rows of its inheritance children, which are not captured."),
						 errhint("Untrack \"%s\" and track the child tables each on its own, or remove the inheritance.",
								 RelationGetRelationName(rel))));
			/* a writer the scope refuses does not wait for its lock */
			if (undoredo_find_scope_state(undoredo_scope) == NULL)
				undoredo_access_before_lock(undoredo_scope, RelationGetRelid(rel));
			undoredo_scope_writes(undoredo_lock_scope(undoredo_scope));
		}
		return PointerGetDatum(NULL);
	}

	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("undoredo_capture must be installed by undoredo_track")));

	/*
	 * A replay captures nothing, except a revert's: its rows make the new
	 * step of the reverting scope, whatever undoredo.scope says.
	 */
	if (undoredo_replaying)
	{
		if (undoredo_replay_firing.active)
			check_replay_row(trigdata);
		if (undoredo_reverting() == NULL)
			return PointerGetDatum(NULL);
		scope = undoredo_reverting()->scope;
	}
	else if (capturing())
		scope = undoredo_scope;
	else
		return PointerGetDatum(NULL);

	ti = undoredo_cached_table_info(RelationGetRelid(rel));
	if (ti == NULL)
		ti = undoredo_table_info(rel, tracked_table(trigdata->tg_trigger->tgoid,
												   RelationGetRelid(rel)));

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		op = 'i';
		newtup = trigdata->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		op = 'd';
		oldtup = trigdata->tg_trigtuple;
	}
	else
	{
		op = 'u';
		oldtup = trigdata->tg_trigtuple;
		newtup = trigdata->tg_newtuple;
	}
	/* on a Citus shard, the rows of the scope's object only */
	undoredo_citus_check_row(ti, rel, oldtup, scope);
	undoredo_citus_check_row(ti, rel, newtup, scope);
	if (ti->map != NULL)
	{
		if (oldtup)
			oldtup = execute_attr_map_tuple(oldtup, ti->map);
		if (newtup)
			newtup = execute_attr_map_tuple(newtup, ti->map);
	}
	record_change(scope, ti, op, oldtup, newtup);
	return PointerGetDatum(NULL);
}

static char *
qualified_relation_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

static void
run_ddl(const char *sql)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc < 0)
		elog(ERROR, "undoredo: \"%s\" failed: %s", sql,
			 SPI_result_code_string(rc));
}

static Oid
table_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be null")));
	return PG_GETARG_OID(0);
}

/* Does the table, or one of its partitions, lack the guard? */
static bool
guard_missing(Oid relid)
{
	List	   *members = find_all_inheritors(relid, AccessShareLock, NULL);
	ListCell   *lc;

	foreach(lc, members)
	{
		Oid			member = lfirst_oid(lc);

		if (get_rel_relkind(member) != RELKIND_FOREIGN_TABLE &&
			!OidIsValid(get_trigger_oid(member, GUARD_TRIGGER, true)))
			return true;
	}
	return false;
}

/*
 * Put the guard on the table and each of its partitions that lacks it
 * (a foreign table needs none: it cannot be truncated, and it is written
 * through its own statements).  Connected to SPI.
 */
static void
add_missing_guards(Oid relid, const UndoRedoExtension *ext)
{
	List	   *members = find_all_inheritors(relid, ShareRowExclusiveLock, NULL);
	ListCell   *lc;

	foreach(lc, members)
	{
		Oid			member = lfirst_oid(lc);

		if (get_rel_relkind(member) == RELKIND_FOREIGN_TABLE)
			continue;
		/* one left behind by an earlier tracking serves again */
		if (OidIsValid(get_trigger_oid(member, GUARD_TRIGGER, true)))
			continue;
		run_ddl(psprintf("CREATE TRIGGER " GUARD_TRIGGER
						 " BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s"
						 " FOR EACH STATEMENT EXECUTE FUNCTION %s.undoredo_capture()",
						 qualified_relation_name(member), ext->qschema));
	}
}

Datum
undoredo_track(PG_FUNCTION_ARGS)
{
	Oid			relid = table_arg(fcinfo);
	const UndoRedoExtension *ext = undoredo_extension();
	Relation	rel;
	const char *name;
	char	   *qname;

	/*
	 * Check with a light lock: tracking a tracked table again must not block
	 * its writers.  The triggers are made under ShareRowExclusiveLock.
	 */
	rel = relation_open(relid, AccessShareLock);
	name = RelationGetRelationName(rel);
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot track \"%s\"", name),
				 errdetail("Only tables and partitioned tables can be tracked; \"%s\" is a %s.",
						   name,
						   rel->rd_rel->relkind == RELKIND_VIEW ? "view" :
						   rel->rd_rel->relkind == RELKIND_MATVIEW ? "materialized view" :
						   rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE ? "foreign table" :
						   rel->rd_rel->relkind == RELKIND_SEQUENCE ? "sequence" :
						   "relation of another kind")));
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot track temporary table \"%s\"", name),
				 errdetail("A history outlives the session, a temporary table does not.")));
	if (IsCatalogRelation(rel) ||
		getExtensionOfObject(RelationRelationId, relid) ==
		get_extension_oid("undoredo", false))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot track \"%s\"", name),
				 errdetail("System catalogs and the history tables of undoredo cannot be tracked.")));
	if (pg_class_aclcheck(relid, GetUserId(), ACL_TRIGGER) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, name);
	if (has_inheritance_children(rel))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot track table \"%s\" because other tables inherit from it", name),
				 errdetail("Statements on \"%s\" also change rows of its inheritance children, which would not be captured.",
						   name),
				 errhint("Track the child tables, which hold those rows, each on its own; or use declarative partitioning, whose partitioned tables are tracked as a whole.")));
	if (!OidIsValid(undoredo_primary_key(rel)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot track table \"%s\" because it has no primary key", name),
				 errdetail("undoredo identifies the rows of a tracked table by their primary key."),
				 errhint("Add a primary key to \"%s\", then track it.", name)));

	if (!has_trigger(rel, CAPTURE_TRIGGER))
	{
		relation_close(rel, NoLock);
		rel = relation_open(relid, ShareRowExclusiveLock);
	}
	if (has_trigger(rel, CAPTURE_TRIGGER))
	{
		/*
		 * Tracked already, or through its root.  A partition that lost its
		 * guard (made while the event triggers did not fire, or dropped by
		 * hand: undoredo_verify reports it) gets it back; otherwise nothing
		 * is locked more strongly than to read.
		 */
		if (guard_missing(relid))
		{
			undoredo_spi_connect();
			add_missing_guards(relid, ext);
			undoredo_spi_finish();
		}
		/* tracked before it was distributed: its capture trigger gets an id */
		if (undoredo_citus_loaded() && undoredo_citus_table(relid) &&
			!OidIsValid(undoredo_placement_table_id(relid)))
			undoredo_citus_track(relid, qualified_relation_name(relid), ext->qschema,
								 true);
		relation_close(rel, NoLock);
		PG_RETURN_VOID();
	}

	qname = qualified_relation_name(relid);
	if (undoredo_citus_loaded() && undoredo_citus_table(relid))
	{
		undoredo_citus_track(relid, qname, ext->qschema, false);
		relation_close(rel, NoLock);
		PG_RETURN_VOID();
	}
	undoredo_spi_connect();
	run_ddl(psprintf("CREATE TRIGGER " CAPTURE_TRIGGER
					 " AFTER INSERT OR UPDATE OR DELETE ON %s"
					 " FOR EACH ROW EXECUTE FUNCTION %s.undoredo_capture()",
					 qname, ext->qschema));
	add_missing_guards(relid, ext);
	undoredo_spi_finish();
	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}

Datum
undoredo_untrack(PG_FUNCTION_ARGS)
{
	Oid			relid = table_arg(fcinfo);
	Relation	rel;
	List	   *members;
	ListCell   *lc;

	rel = relation_open(relid, ShareRowExclusiveLock);
	if (pg_class_aclcheck(relid, GetUserId(), ACL_TRIGGER) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, RelationGetRelationName(rel));
	if (!has_trigger(rel, CAPTURE_TRIGGER))
	{
		ereport(NOTICE,
				(errmsg("table \"%s\" is not tracked, skipping",
						RelationGetRelationName(rel))));
		relation_close(rel, NoLock);
		PG_RETURN_VOID();
	}

	if (undoredo_citus_loaded() && undoredo_citus_table(relid))
	{
		undoredo_citus_untrack(relid, qualified_relation_name(relid),
							   undoredo_extension()->qschema);
		relation_close(rel, NoLock);
		PG_RETURN_VOID();
	}
	undoredo_spi_connect();
	run_ddl(psprintf("DROP TRIGGER " CAPTURE_TRIGGER " ON %s",
					 qualified_relation_name(relid)));
	members = find_all_inheritors(relid, ShareRowExclusiveLock, NULL);
	foreach(lc, members)
	{
		Relation	member = relation_open(lfirst_oid(lc), NoLock);

		if (has_trigger(member, GUARD_TRIGGER))
			run_ddl(psprintf("DROP TRIGGER " GUARD_TRIGGER " ON %s",
							 qualified_relation_name(lfirst_oid(lc))));
		relation_close(member, NoLock);
	}
	undoredo_spi_finish();
	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}

/*
 * The event trigger undoredo_forget_detached, at the end of ALTER TABLE: a
 * partition the command detached (DETACH PARTITION, the second transaction
 * of DETACH PARTITION CONCURRENTLY, DETACH PARTITION FINALIZE) has lost its
 * clones of the capture trigger, with those of its own partitions; the
 * guards that undoredo_track or the event trigger undoredo_guard_new_partitions put
 * there go too, so that nothing of the tracking is left.  A table tracked
 * on its own keeps its capture trigger and its guard.  The guards are
 * dropped without a privilege check: the command that detached the
 * partition was allowed to, and they belong to the extension.  The
 * partition is found by the name the command gave, under the command's
 * search_path (this function sets none).
 */
Datum
undoredo_forget_detached(PG_FUNCTION_ARGS)
{
	bool		dropped = false;
	uint64		i;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("undoredo_forget_detached: not called by event trigger manager")));
	undoredo_spi_connect();
	if (SPI_execute("SELECT command FROM pg_catalog.pg_event_trigger_ddl_commands()"
					" WHERE command_tag OPERATOR(pg_catalog.=) 'ALTER TABLE'",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "undoredo: could not read the commands of the event");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		CollectedCommand *cmd;
		ListCell   *lc;

		cmd = (CollectedCommand *) DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[i],
																 SPI_tuptable->tupdesc,
																 1, &isnull));
		if (isnull || cmd->type != SCT_AlterTable)
			continue;
		foreach(lc, cmd->d.alterTable.subcmds)
		{
			CollectedATSubcmd *sub = (CollectedATSubcmd *) lfirst(lc);
			AlterTableCmd *atcmd = (AlterTableCmd *) sub->parsetree;
			Oid			partid;
			List	   *members;
			ListCell   *mc;

			if (atcmd == NULL || !IsA(atcmd, AlterTableCmd) ||
				(atcmd->subtype != AT_DetachPartition &&
				 atcmd->subtype != AT_DetachPartitionFinalize) ||
				atcmd->def == NULL || !IsA(atcmd->def, PartitionCmd))
				continue;
			partid = RangeVarGetRelid(((PartitionCmd *) atcmd->def)->name,
									  AccessExclusiveLock, true);
			if (!OidIsValid(partid))
				continue;
			members = find_all_inheritors(partid, AccessExclusiveLock, NULL);
			foreach(mc, members)
			{
				Oid			member = lfirst_oid(mc);
				ObjectAddress guard;

				if (OidIsValid(get_trigger_oid(member, CAPTURE_TRIGGER, true)))
					continue;
				guard.classId = TriggerRelationId;
				guard.objectId = get_trigger_oid(member, GUARD_TRIGGER, true);
				guard.objectSubId = 0;
				if (!OidIsValid(guard.objectId))
					continue;
				performDeletion(&guard, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
				dropped = true;
			}
		}
	}
	if (dropped)
		CommandCounterIncrement();
	undoredo_spi_finish();
	PG_RETURN_VOID();
}
