/*-------------------------------------------------------------------------
 *
 * replay.c
 *	  undoredo_undo and undoredo_redo.
 *
 * A call locks the scope, then replays step by step (undo: newest first,
 * each step's changes in reverse capture order; redo: the most recently
 * undone first, in capture order) and moves each step's row between
 * undo_action and redo_action.
 *
 * Every row change becomes one statement that checks and applies at once:
 * the DELETE or UPDATE matches the row by its primary key *and* by the
 * exact send form of every column the step recorded (pg_catalog.=-free:
 * "int4send(col) OPERATOR(pg_catalog.=) $n"), the INSERT uses ON CONFLICT
 * on the primary key.  A statement that touches no row is diagnosed (gone,
 * changed, or hidden from the caller by row-level security) and raises an
 * error, which rolls the whole call back.  Replaying the exact reverse
 * order keeps non-deferrable unique constraints satisfied at every row,
 * and checking each change against the state left by the ones before it
 * is the same as checking each step against the state left by undoing the
 * newer ones.
 *
 * Foreign keys are checked on each step's final state only: the statements
 * run with fire_triggers = false (as ri_triggers.c runs its queries),
 * inside an after-trigger query level of our own per step, so their AFTER
 * triggers (foreign key checks and actions, application triggers) are
 * queued and fire when the step is replayed.  Cascaded children re-inserted
 * before their parent and self-referencing trees are therefore fine.  (A
 * step that removes and re-creates a key of a table with foreign key
 * actions is refused: see key_created.)
 *
 * The row statements run as the caller, so table privileges and row-level
 * security apply; only the history is read and written as the extension
 * owner.  undoredo.replaying is on meanwhile, which also stops the capture
 * trigger.
 *
 * A statement for one change and a set-based one for a run of changes
 * (batch_flush) are built by the same functions, one per piece of SQL,
 * given where the values come from (Source).  Errors about a table name
 * it in their fields (errtable, and errtablecol or errtableconstraint for
 * a column or a foreign key): each table a step changes is kept open for
 * that (ReplayTable) under the lock undoredo_table_info_by_oid took.  Each
 * message is written out whole, once for undo and once for redo.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "common/hashfn.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "nodes/bitmapset.h"
#include "utils/hsearch.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/datum.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "catalog/pg_inherits.h"
#include "rewrite/prs2lock.h"
#include "rewrite/rewriteDefine.h"
#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_operator.h"
#include "utils/syscache.h"
#include "catalog/pg_trigger.h"
#include "utils/fmgroids.h"
#include "parser/parse_coerce.h"
#include "utils/syscache.h"

#include "undoredo.h"

PG_FUNCTION_INFO_V1(undoredo_undo);
PG_FUNCTION_INFO_V1(undoredo_redo);
PG_FUNCTION_INFO_V1(undoredo_revert);


/* A statement's SQL text and parameters, built up piece by piece. */
/*
 * A value of more bytes than this is replayed one row at a time, by a
 * statement with a generic plan of its own.
 */
#define LARGE_VALUE (1024 * 1024)

typedef struct Statement
{
	StringInfoData sql;
	int			nargs;
	int			maxargs;
	Oid		   *argtypes;
	Datum	   *values;
	char	   *nulls;
	bool		large;			/* a parameter holds a large value */
} Statement;

struct Batch;



typedef struct ReplayContext
{
	bool		undo;
	bool		revert;			/* an undo for undoredo_revert */
	bool		overwrite;		/* undoredo.on_conflict when the call began */
	int64		scope_id;
	int64		step;
	int64		nchanges;		/* changes of the step replayed so far */
	TableInfo  *ti;
	struct Batch *batch;		/* the run of changes being collected */
	HTAB	   *removed_keys;	/* of uint64: keys this step's replay removed
								 * from tables with foreign key actions */
	HTAB	   *tables;			/* of ReplayTable, by tracked table */
	Relation	rel;			/* rc->ti's table, for errtable() */
	int			before_row;		/* rc->ti's BEFORE ROW trigger events */
	List	   *untracked;		/* rc->ti's UntrackedActions */
} ReplayContext;

/*
 * Which events of a tracked table (or of any of its partitions) have
 * enabled BEFORE ROW triggers of the application: they may change what a
 * replay statement writes, so such statements return what they wrote and
 * it is compared with the recorded image.
 */
#define EVENT_INSERT 1
#define EVENT_UPDATE 2
#define EVENT_DELETE 4

/*
 * What the replay of a step keeps of each tracked table it changes.  The
 * table is open (without a lock of its own: undoredo_table_info_by_oid
 * took one, held to the end of the transaction) so that errors can name
 * it in their fields with errtable().
 */
typedef struct ReplayTable
{
	Oid			relid;			/* key */
	Relation	rel;
	int			before_row;		/* EVENT_* with such triggers */
	List	   *untracked;		/* of UntrackedAction */
} ReplayTable;

/*
 * A foreign key with an ON DELETE or ON UPDATE action from a table that is
 * not tracked to a tracked one.  The capture trigger cannot see the rows
 * such an action changes, so before replay removes or re-keys a row, the
 * referencing rows are looked for (see check_untracked_actions).
 */
typedef struct UntrackedAction
{
	Oid			conrelid;		/* the referencing table */
	Oid			owner;			/* its owner, who looks */
	char	   *conname;
	char	   *table;			/* its quoted name, and relname for messages */
	char	   *target;			/* "ONLY table" unless partitioned */
	bool		on_delete;
	bool		on_update;
	int			nkeys;
	AttrNumber	pkattnums[INDEX_MAX_KEYS];	/* referenced columns */
	char	   *fkcols[INDEX_MAX_KEYS]; /* quoted referencing columns */
	char	   *ops[INDEX_MAX_KEYS];	/* OPERATOR(ns.=) of referenced = referencing */
} UntrackedAction;

static List *untracked_actions(Oid relid);
static bool same_value(const ImageValue *a, const ImageValue *b);
struct ReplayContext;

static int
add_param(Statement *st, Oid type, Datum value, bool isnull)
{
	if (st->nargs == st->maxargs)
	{
		st->maxargs *= 2;
		st->argtypes = repalloc(st->argtypes, sizeof(Oid) * st->maxargs);
		st->values = repalloc(st->values, sizeof(Datum) * st->maxargs);
		st->nulls = repalloc(st->nulls, st->maxargs);
	}
	st->argtypes[st->nargs] = type;
	st->values[st->nargs] = value;
	st->nulls[st->nargs] = isnull ? 'n' : ' ';
	if (!isnull && !st->large && get_typlen(type) == -1 &&
		VARSIZE_ANY(DatumGetPointer(value)) > LARGE_VALUE)
		st->large = true;
	return ++st->nargs;
}

/*
 * Check an image against the table as it is now: dropped columns are left
 * out (returns false for them), a column whose type changed is refused.
 */
static bool
usable(const ReplayContext *rc, const ImageValue *v)
{
	TableInfo  *ti = rc->ti;
	ColumnInfo *col;

	if (v->attnum < 1 || v->attnum > ti->natts)
		return false;
	col = &ti->cols[v->attnum - 1];
	if (col->dropped || col->generated)
		return false;
	if (col->typid != v->typid && !SearchSysCacheExists1(TYPEOID, ObjectIdGetDatum(v->typid)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 rc->revert ?
				 errmsg("cannot revert step " INT64_FORMAT ": the type of column \"%s\" of table \"%s\" that the step recorded no longer exists",
						rc->step, NameStr(col->name), ti->relname) :
				 rc->undo ?
				 errmsg("cannot undo step " INT64_FORMAT ": the type of column \"%s\" of table \"%s\" that the step recorded no longer exists",
						rc->step, NameStr(col->name), ti->relname) :
				 errmsg("cannot redo step " INT64_FORMAT ": the type of column \"%s\" of table \"%s\" that the step recorded no longer exists",
						rc->step, NameStr(col->name), ti->relname),
				 errdetail("The step recorded a value of the type with OID %u; the column is now of type %s.",
						   v->typid, format_type_be(col->typid)),
				 errtablecol(rc->rel, v->attnum),
				 errhint("Steps recorded before undoredo 1.1.1 name user-defined types by OID, which a dump and restore does not keep.")));
	if (col->typid != v->typid)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 rc->revert ?
				 errmsg("cannot revert step " INT64_FORMAT ": column \"%s\" of table \"%s\" changed type since the step was recorded",
						rc->step, NameStr(col->name), ti->relname) :
				 rc->undo ?
				 errmsg("cannot undo step " INT64_FORMAT ": column \"%s\" of table \"%s\" changed type since the step was recorded",
						rc->step, NameStr(col->name), ti->relname) :
				 errmsg("cannot redo step " INT64_FORMAT ": column \"%s\" of table \"%s\" changed type since the step was recorded",
						rc->step, NameStr(col->name), ti->relname),
				 errdetail("The step recorded a value of type %s, the column is now of type %s.",
						   format_type_be(v->typid), format_type_be(col->typid)),
				 errtablecol(rc->rel, v->attnum)));
	return true;
}

/* Do two values of a column have the same stored form (headers aside)? */
static bool
same_datum(const ColumnInfo *col, Datum a, Datum b)
{
	struct varlena *da;
	struct varlena *db;

	if (col->typlen != -1)
		return datumIsEqual(a, b, col->typbyval, col->typlen);
	da = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(a));
	db = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(b));
	return VARSIZE_ANY_EXHDR(da) == VARSIZE_ANY_EXHDR(db) &&
		memcmp(VARDATA_ANY(da), VARDATA_ANY(db), VARSIZE_ANY_EXHDR(da)) == 0;
}

/*
 * A recorded value (not null) as a datum.  A value to be written is
 * checked against the column's type modifier: if it changed since the step
 * was recorded (numeric to numeric(10,0), varchar(20) to varchar(5)) and
 * writing the value would change it (round it, cut it), the call is
 * refused, since what is written must be exactly what was recorded.  (A
 * value only compared with the row needs no check: a stored form that the
 * ALTER rewrote differs from the recorded one, a conflict.)
 */
static Datum
replay_datum(const ReplayContext *rc, const ImageValue *v, bool written)
{
	TableInfo  *ti = rc->ti;
	ColumnInfo *col = &ti->cols[v->attnum - 1];
	Datum		value = undoredo_image_datum(ti, v);
	Oid			funcid;

	if (written && col->typmod >= 0 &&
		find_typmod_coercion_function(col->typid, &funcid) == COERCION_PATH_FUNC)
	{
		Datum		coerced = OidFunctionCall3(funcid, value,
											   Int32GetDatum(col->typmod),
											   BoolGetDatum(false));

		if (!same_datum(col, value, coerced))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 rc->revert ?
					 errmsg("cannot revert step " INT64_FORMAT ": column \"%s\" of table \"%s\" is now of type %s, which would change a recorded value",
							rc->step, NameStr(col->name), ti->relname,
							format_type_with_typemod(col->typid, col->typmod)) :
					 rc->undo ?
					 errmsg("cannot undo step " INT64_FORMAT ": column \"%s\" of table \"%s\" is now of type %s, which would change a recorded value",
							rc->step, NameStr(col->name), ti->relname,
							format_type_with_typemod(col->typid, col->typmod)) :
					 errmsg("cannot redo step " INT64_FORMAT ": column \"%s\" of table \"%s\" is now of type %s, which would change a recorded value",
							rc->step, NameStr(col->name), ti->relname,
							format_type_with_typemod(col->typid, col->typmod)),
					 errdetail("The column's type modifier changed after the step was recorded; the value %s would be stored as %s.",
							   OidOutputFunctionCall(col->outfn, value),
							   OidOutputFunctionCall(col->outfn, coerced)),
					 errtablecol(rc->rel, v->attnum)));
	}
	return value;
}

/* The recorded columns of an image that replay can use. */
static Bitmapset *
usable_columns(const ReplayContext *rc, RowImage *image)
{
	Bitmapset  *cols = NULL;
	int			i;

	for (i = 0; i < image->nvalues; i++)
		if (usable(rc, &image->values[i]))
			cols = bms_add_member(cols, image->values[i].attnum);
	return cols;
}

static const char *
column_name(TableInfo *ti, AttrNumber attnum)
{
	return quote_identifier(NameStr(ti->cols[attnum - 1].name));
}

/* "(a, b)=(1, x)" for messages */
static char *
key_text(const ReplayContext *rc, RowImage *image)
{
	TableInfo  *ti = rc->ti;
	StringInfoData names;
	StringInfoData vals;
	int			i;

	initStringInfo(&names);
	initStringInfo(&vals);
	for (i = 0; i < ti->nkeys; i++)
	{
		ImageValue *v = undoredo_image_find(image, ti->keys[i]);
		ColumnInfo *col = &ti->cols[ti->keys[i] - 1];

		appendStringInfo(&names, "%s%s", i ? ", " : "", NameStr(col->name));
		appendStringInfo(&vals, "%s%s", i ? ", " : "",
						 v == NULL || v->format == 'n' ? "null" :
						 OidOutputFunctionCall(col->outfn,
											   undoredo_image_datum(ti, v)));
	}
	return psprintf("(%s)=(%s)", names.data, vals.data);
}

/*
 * Is this an application's enabled BEFORE ROW trigger on one of the
 * events?  (Ours are AFTER ROW and BEFORE STATEMENT; internal ones are
 * constraint triggers.)
 */
static bool
app_before_row(const Trigger *tg, int events)
{
	int			fired = 0;

	if (tg->tgenabled == TRIGGER_DISABLED || tg->tgisinternal ||
		!TRIGGER_FOR_ROW(tg->tgtype) || !TRIGGER_FOR_BEFORE(tg->tgtype))
		return false;
	if (TRIGGER_FOR_INSERT(tg->tgtype))
		fired |= EVENT_INSERT;
	if (TRIGGER_FOR_UPDATE(tg->tgtype))
		fired |= EVENT_UPDATE;
	if (TRIGGER_FOR_DELETE(tg->tgtype))
		fired |= EVENT_DELETE;
	return (fired & events) != 0;
}

/* The name of a rule, for a message. */
static char *
rule_name(Oid ruleid)
{
	Relation	rel = table_open(RewriteRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *name = NULL;

	ScanKeyInit(&key, Anum_pg_rewrite_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ruleid));
	scan = systable_beginscan(rel, RewriteOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		name = pstrdup(NameStr(((Form_pg_rewrite) GETSTRUCT(tuple))->rulename));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return name ? name : psprintf("%u", ruleid);
}

/*
 * The BEFORE ROW trigger events of a tracked table and its partitions; for
 * a table with a rule on INSERT, UPDATE or DELETE, an error: a rule
 * rewrites the replay statement itself, so what it writes cannot be
 * checked row by row.  With names, the triggers of those events, quoted,
 * for a message.
 */
static int
table_before_row(Oid rootid, int events, StringInfo names)
{
	List	   *members = find_all_inheritors(rootid, NoLock, NULL);
	ListCell   *lc;
	int			result = 0;

	foreach(lc, members)
	{
		Relation	rel = relation_open(lfirst_oid(lc), AccessShareLock);
		int			i;

		if (rel->rd_rules != NULL)
		{
			for (i = 0; i < rel->rd_rules->numLocks; i++)
			{
				RewriteRule *rule = rel->rd_rules->rules[i];

				if (rule->enabled != RULE_DISABLED &&
					(rule->event == CMD_INSERT || rule->event == CMD_UPDATE ||
					 rule->event == CMD_DELETE))
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot replay changes of table \"%s\" because it has rule \"%s\"",
									RelationGetRelationName(rel),
									rule_name(rule->ruleId)),
							 errdetail("A rule on INSERT, UPDATE or DELETE rewrites what undo and redo write, so they could not restore the recorded rows exactly."),
							 errhint("Replace the rule by a trigger; a trigger can leave replays alone with WHEN (current_setting('undoredo.replaying') = 'off')."),
							 errtable(rel)));
			}
		}
		for (i = 0; rel->trigdesc != NULL && i < rel->trigdesc->numtriggers; i++)
		{
			Trigger    *tg = &rel->trigdesc->triggers[i];

			if (app_before_row(tg, EVENT_INSERT))
				result |= EVENT_INSERT;
			if (app_before_row(tg, EVENT_UPDATE))
				result |= EVENT_UPDATE;
			if (app_before_row(tg, EVENT_DELETE))
				result |= EVENT_DELETE;
			if (names != NULL && app_before_row(tg, events))
				appendStringInfo(names, "%s%s on %s", names->len ? ", " : "",
								 quote_identifier(tg->tgname),
								 quote_identifier(RelationGetRelationName(rel)));
		}
		relation_close(rel, AccessShareLock);
	}
	list_free(members);
	return result;
}

/* What a replay INSERT fires: with overwrite, ON CONFLICT DO UPDATE too. */
static int
insert_events(const ReplayContext *rc)
{
	return rc->overwrite ? EVENT_INSERT | EVENT_UPDATE : EVENT_INSERT;
}

/*
 * rc->ti changed: open its table and look up its BEFORE ROW trigger events
 * (once a step).
 */
static void
note_table(ReplayContext *rc)
{
	ReplayTable *entry;
	bool		found;

	entry = hash_search(rc->tables, &rc->ti->rootid, HASH_ENTER, &found);
	if (!found)
	{
		entry->rel = relation_open(rc->ti->rootid, NoLock);
		entry->before_row = table_before_row(rc->ti->rootid, 0, NULL);
		entry->untracked = rc->ti->fk_actions ? untracked_actions(rc->ti->rootid) : NIL;
	}
	rc->rel = entry->rel;
	rc->before_row = entry->before_row;
	rc->untracked = entry->untracked;
}

/*
 * A row a replay statement wrote, as it returned it (the columns from
 * position first on, as append_returning listed them), must hold
 * exactly the recorded values: otherwise a BEFORE ROW trigger changed them,
 * and the call fails naming the triggers.
 */
static void
check_written(const ReplayContext *rc, RowImage *image, Bitmapset *cols,
			  HeapTuple tuple, TupleDesc desc, int first, int event)
{
	TableInfo  *ti = rc->ti;
	int			x = -1;
	int			pos = first;

	while ((x = bms_next_member(cols, x)) >= 0)
	{
		ImageValue *v = undoredo_image_find(image, x);
		bool		isnull;
		Datum		d = SPI_getbinval(tuple, desc, pos++, &isnull);
		bool		same;
		StringInfoData names;

		if (v == NULL)
			continue;
		if (v->format == 'n' || isnull)
			same = v->format == 'n' && isnull;
		else
		{
			bytea	   *expected = undoredo_image_sent(ti, v);
			bytea	   *got = DatumGetByteaPP(d);

			same = VARSIZE_ANY_EXHDR(expected) == VARSIZE_ANY_EXHDR(got) &&
				memcmp(VARDATA_ANY(expected), VARDATA_ANY(got),
					   VARSIZE_ANY_EXHDR(got)) == 0;
		}
		if (same)
			continue;
		initStringInfo(&names);
		(void) table_before_row(ti->rootid, event, &names);
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
				 rc->revert ?
				 errmsg("cannot revert step " INT64_FORMAT ": a trigger changed the value the revert wrote to column \"%s\" of row %s of table \"%s\"",
						rc->step, NameStr(ti->cols[x - 1].name), key_text(rc, image),
						ti->relname) :
				 rc->undo ?
				 errmsg("cannot undo step " INT64_FORMAT ": a trigger changed the value undo wrote to column \"%s\" of row %s of table \"%s\"",
						rc->step, NameStr(ti->cols[x - 1].name), key_text(rc, image),
						ti->relname) :
				 errmsg("cannot redo step " INT64_FORMAT ": a trigger changed the value redo wrote to column \"%s\" of row %s of table \"%s\"",
						rc->step, NameStr(ti->cols[x - 1].name), key_text(rc, image),
						ti->relname),
				 names.len ?
				 errdetail("Undo and redo write exactly the recorded values; BEFORE ROW triggers on the table: %s.",
						   names.data) :
				 errdetail("Undo and redo write exactly the recorded values; the table has no BEFORE ROW triggers now."),
				 errhint("Make the trigger leave replays alone, e.g. with WHEN (current_setting('undoredo.replaying') = 'off') in CREATE TRIGGER."),
				 errtablecol(rc->rel, x)));
	}
}

/*
 * The pieces of replay SQL.  The statement for one change and the one for
 * a run of changes (batch_flush) are built by the same functions; they
 * differ in where their values come from, a Source:
 *
 * - one change, {.image = image}: the values of the image, each a
 *   parameter of the statement ($n); the table's columns are named as
 *   they are;
 * - a run (batch_flush): the rows of pg_catalog.unnest() of arrays of the
 *   table's row type, named v, each value a column of it (v.o3: column 3
 *   of the row as it must be, v.n3: as it becomes); the table is t, its
 *   columns t.col.
 *
 * Names are quoted and qualified, values are parameters, operators are
 * written OPERATOR(schema.op), so that search_path cannot change them.
 */
typedef struct Source
{
	RowImage   *image;			/* one change: its image; a run: NULL */
	const char *prefix;			/* a run: "o" or "n" */
	const char *rows;			/* a run: the FROM item that yields v */
	Bitmapset  *cols;			/* a run: the columns of its every row */
} Source;

/*
 * The columns the source has values of: an image's usable recorded columns
 * (which checks them, see usable), a run's columns.
 */
static Bitmapset *
source_columns(const ReplayContext *rc, const Source *src)
{
	return src->image != NULL ? usable_columns(rc, src->image) : src->cols;
}

/* A column of the table: "col", or in a run "t.col" (src NULL: "col"). */
static char *
table_column(TableInfo *ti, const Source *src, AttrNumber attnum)
{
	return psprintf("%s%s", src == NULL || src->image != NULL ? "" : "t.",
					column_name(ti, attnum));
}

/* "k1, k2": the key columns, named as table_column names them */
static char *
key_columns(TableInfo *ti, const Source *src)
{
	StringInfoData names;
	int			i;

	initStringInfo(&names);
	for (i = 0; i < ti->nkeys; i++)
		appendStringInfo(&names, "%s%s", i ? ", " : "",
						 table_column(ti, src, ti->keys[i]));
	return names.data;
}

/*
 * What replay compares a value by: its type's send form, "send(expr)", or
 * (as_text) its text output as text, "pg_catalog.textin(out(expr))", for a
 * type without send (ColumnInfo.sendsql is its output function then).
 */
static char *
sent_form(const ColumnInfo *col, const char *expr, bool as_text)
{
	if (as_text)
		return psprintf("pg_catalog.textin(%s(%s))", col->sendsql, expr);
	return psprintf("%s(%s)", col->sendsql, expr);
}

/*
 * The source's value of column attnum: in a run "v.o3", else the image's
 * value, added to the statement as a parameter of the column's type, "$n"
 * (written: a value to be written, checked as replay_datum says).
 */
static char *
source_value(const ReplayContext *rc, Statement *st, const Source *src,
			 AttrNumber attnum, bool written)
{
	ImageValue *v;
	int			n;

	if (src->image == NULL)
		return psprintf("v.%s%d", src->prefix, attnum);
	v = undoredo_image_find(src->image, attnum);
	Assert(v != NULL);
	n = add_param(st, rc->ti->cols[attnum - 1].typid,
				  v->format == 'n' ? (Datum) 0 : replay_datum(rc, v, written),
				  v->format == 'n');
	return psprintf("$%d", n);
}

/*
 * " WHERE k1 OPERATOR(ns.=) <value> AND ...": the row with the source's key,
 * by the key columns' own equality (what the primary key's index matches).
 * An image whose key value is missing, null or of a column whose type
 * changed means that the primary key changed since the step was recorded.
 */
static void
append_key_match(const ReplayContext *rc, Statement *st, const Source *src)
{
	TableInfo  *ti = rc->ti;
	int			i;

	for (i = 0; i < ti->nkeys; i++)
	{
		AttrNumber	attnum = ti->keys[i];
		char	   *value;

		if (src->image != NULL)
		{
			ImageValue *v = undoredo_image_find(src->image, attnum);

			if (v == NULL || !usable(rc, v) || v->format == 'n')
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 rc->revert ?
						 errmsg("cannot revert step " INT64_FORMAT ": the primary key of table \"%s\" changed since the step was recorded",
								rc->step, ti->relname) :
						 rc->undo ?
						 errmsg("cannot undo step " INT64_FORMAT ": the primary key of table \"%s\" changed since the step was recorded",
								rc->step, ti->relname) :
						 errmsg("cannot redo step " INT64_FORMAT ": the primary key of table \"%s\" changed since the step was recorded",
								rc->step, ti->relname),
						 errtable(rc->rel)));
		}
		value = source_value(rc, st, src, attnum, false);
		appendStringInfo(&st->sql, "%s%s %s %s", i ? " AND " : " WHERE ",
						 table_column(ti, src, attnum),
						 ti->cols[attnum - 1].eqop, value);
	}
}

/*
 * " AND <column is exactly the source's value>": compared by send form (or
 * text output), not by '=' (numeric 1.5 and 1.50 are '='), except for a
 * type whose '=' is equality of stored forms (ColumnInfo.exact_eq).  An
 * image's value is a parameter holding its send form (text for format 't'),
 * and its null is "send(col) IS NULL", not "col IS NULL", which is true for
 * a row of nulls too; a value of v may be null or not.
 */
static void
append_exact_match(const ReplayContext *rc, Statement *st, const Source *src,
				   AttrNumber attnum)
{
	TableInfo  *ti = rc->ti;
	ColumnInfo *col = &ti->cols[attnum - 1];
	char	   *column = table_column(ti, src, attnum);

	if (src->image != NULL)
	{
		ImageValue *v = undoredo_image_find(src->image, attnum);
		int			n;

		if (v->format == 'n')
		{
			appendStringInfo(&st->sql, " AND %s IS NULL",
							 sent_form(col, column, false));
			return;
		}
		n = add_param(st, v->format == 't' ? TEXTOID : BYTEAOID,
					  PointerGetDatum(undoredo_image_sent(ti, v)), false);
		appendStringInfo(&st->sql, " AND %s OPERATOR(pg_catalog.=) $%d",
						 sent_form(col, column, v->format == 't'), n);
	}
	else
	{
		char	   *value = source_value(rc, st, src, attnum, false);
		bool		as_text = !OidIsValid(col->sendfn);

		if (col->exact_eq)
			appendStringInfo(&st->sql,
							 " AND (%s OPERATOR(pg_catalog.=) %s OR (%s IS NULL AND %s IS NULL))",
							 column, value, column, value);
		else
			appendStringInfo(&st->sql,
							 " AND (%s OPERATOR(pg_catalog.=) %s OR (%s IS NULL AND %s IS NULL))",
							 sent_form(col, column, as_text),
							 sent_form(col, value, as_text),
							 sent_form(col, column, false),
							 sent_form(col, value, false));
	}
}

/* append_exact_match for each of the columns */
static void
append_exact_matches(const ReplayContext *rc, Statement *st,
					 const Source *src, Bitmapset *cols)
{
	int			x = -1;

	while ((x = bms_next_member(cols, x)) >= 0)
		append_exact_match(rc, st, src, x);
}

/*
 * " AND NOT (the key is exactly the image's)": excludes the image's own row
 * from a search by '=' on the key.
 */
static void
append_other_key(const ReplayContext *rc, Statement *st, RowImage *image)
{
	Source		src = {.image = image};
	int			i;

	appendStringInfoString(&st->sql, " AND NOT (true");
	for (i = 0; i < rc->ti->nkeys; i++)
	{
		ImageValue *v = undoredo_image_find(image, rc->ti->keys[i]);

		if (v == NULL || v->format == 'n')
			continue;			/* append_key_match refuses it */
		append_exact_match(rc, st, &src, rc->ti->keys[i]);
	}
	appendStringInfoChar(&st->sql, ')');
}

/*
 * " RETURNING first, send(col), ...": first tells which row a statement
 * wrote, then the send forms of the columns (in attnum order; NULL: none)
 * what it wrote there, for check_written.
 */
static void
append_returning(const ReplayContext *rc, Statement *st, const Source *src,
				 const char *first, Bitmapset *cols)
{
	int			x = -1;

	appendStringInfo(&st->sql, " RETURNING %s", first);
	while ((x = bms_next_member(cols, x)) >= 0)
	{
		ColumnInfo *col = &rc->ti->cols[x - 1];

		appendStringInfo(&st->sql, ", %s",
						 sent_form(col, table_column(rc->ti, src, x),
								   !OidIsValid(col->sendfn)));
	}
}

/*
 * "a = <value>, b = <value>": the columns set to the source's values, to
 * be written (replay_datum checks them).
 */
static void
append_assignments(const ReplayContext *rc, Statement *st, const Source *src,
				   Bitmapset *cols)
{
	int			x = -1;
	bool		first = true;

	while ((x = bms_next_member(cols, x)) >= 0)
	{
		char	   *value = source_value(rc, st, src, x, true);

		appendStringInfo(&st->sql, "%s%s = %s", first ? "" : ", ",
						 column_name(rc->ti, x), value);
		first = false;
	}
}

/* "SELECT 1 FROM tbl WHERE <the key of the source>" */
static void
build_key_lookup(const ReplayContext *rc, Statement *st, const Source *src)
{
	appendStringInfo(&st->sql, "SELECT 1 FROM %s", rc->ti->target);
	append_key_match(rc, st, src);
}

/*
 * " WHERE ...": the rows a statement changes, each by its key and, but with
 * overwrite, by the exact values of the source's columns.
 */
static void
append_row_match(const ReplayContext *rc, Statement *st, const Source *from)
{
	append_key_match(rc, st, from);
	if (!rc->overwrite)
		append_exact_matches(rc, st, from, source_columns(rc, from));
}

/* DELETE of the source's rows (in a run, "DELETE FROM tbl t USING <v>") */
static void
build_remove(const ReplayContext *rc, Statement *st, const Source *from)
{
	appendStringInfo(&st->sql, "DELETE FROM %s", rc->ti->target);
	if (from->image == NULL)
		appendStringInfo(&st->sql, " t USING %s", from->rows);
	append_row_match(rc, st, from);
}

/* UPDATE of the rows of from that sets the columns set to the values of to */
static void
build_update(const ReplayContext *rc, Statement *st, const Source *from,
			 const Source *to, Bitmapset *set)
{
	appendStringInfo(&st->sql, "UPDATE %s%s SET ", rc->ti->target,
					 from->image != NULL ? "" : " t");
	append_assignments(rc, st, to, set);
	if (from->image == NULL)
		appendStringInfo(&st->sql, " FROM %s", from->rows);
	append_row_match(rc, st, from);
}

/*
 * INSERT of the source's rows, "INSERT INTO tbl (cols) VALUES (...)" or in
 * a run "INSERT INTO tbl AS t (cols) SELECT ... FROM <v>", with OVERRIDING
 * SYSTEM VALUE for a GENERATED ALWAYS identity column.  A row whose key a
 * row holds is not inserted: ON CONFLICT on the primary key (not for a
 * deferrable one) does nothing or, with overwrite, sets the other columns.
 */
static void
build_insert(const ReplayContext *rc, Statement *st, const Source *to)
{
	TableInfo  *ti = rc->ti;
	Bitmapset  *cols = source_columns(rc, to);
	StringInfoData names;
	StringInfoData values;
	StringInfoData sets;
	bool		overriding = false;
	int			x = -1;

	initStringInfo(&names);
	initStringInfo(&values);
	initStringInfo(&sets);
	while ((x = bms_next_member(cols, x)) >= 0)
	{
		const char *name = column_name(ti, x);

		overriding |= ti->cols[x - 1].identity_always;
		appendStringInfo(&names, "%s%s", names.len ? ", " : "", name);
		appendStringInfo(&values, "%s%s", values.len ? ", " : "",
						 source_value(rc, st, to, x, true));
		if (ti->cols[x - 1].eqop == NULL)
			appendStringInfo(&sets, "%s%s = EXCLUDED.%s", sets.len ? ", " : "",
							 name, name);
	}
	if (to->image != NULL)
		appendStringInfo(&st->sql, "INSERT INTO %s (%s)%s VALUES (%s)",
						 ti->qname, names.data,
						 overriding ? " OVERRIDING SYSTEM VALUE" : "",
						 values.data);
	else
		appendStringInfo(&st->sql, "INSERT INTO %s AS t (%s)%s SELECT %s FROM %s",
						 ti->qname, names.data,
						 overriding ? " OVERRIDING SYSTEM VALUE" : "",
						 values.data, to->rows);
	if (ti->key_deferrable)
		return;
	if (rc->overwrite && sets.len > 0)
		appendStringInfo(&st->sql, " ON CONFLICT (%s) DO UPDATE SET %s",
						 key_columns(ti, NULL), sets.data);
	else
		appendStringInfo(&st->sql, " ON CONFLICT (%s) DO NOTHING",
						 key_columns(ti, NULL));
}

static void
statement_init(Statement *st)
{
	initStringInfo(&st->sql);
	st->nargs = 0;
	st->maxargs = 16;
	st->argtypes = palloc(sizeof(Oid) * st->maxargs);
	st->values = palloc(sizeof(Datum) * st->maxargs);
	st->nulls = palloc(st->maxargs);
	st->large = false;
}

/*
 * Run a replay statement as the caller, or, to look past row-level security
 * when explaining a failure, as the table's owner (as ri_triggers.c runs
 * its checks: the owner's own code runs with the owner's rights, never
 * with the extension owner's).
 */
static uint64
execute(const ReplayContext *rc, Statement *st, bool as_table_owner)
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			ret;

	/* the capture trigger leaves the statement's rows alone */
	Assert(undoredo_replaying);
	Assert(RelationGetRelid(rc->rel) == rc->ti->rootid);
	GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
	if (as_table_owner)
		SetUserIdAndSecContext(rc->ti->owner,
							   saved_sec_context | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_NOFORCE_RLS);
	/*
	 * Planned in the context it runs in (see undoredo_plan).  A statement
	 * with a large value gets a generic plan of its own: a custom plan
	 * would copy each parameter into the plan as a constant, twice.
	 */
	ret = undoredo_execute_plan(st->large ?
								undoredo_plan_once(st->sql.data, st->nargs,
												   st->argtypes) :
								undoredo_plan(rc->ti->rootid, st->sql.data,
											  st->nargs, st->argtypes),
								st->values, st->nulls, InvalidSnapshot,
								false, 0);
	SetUserIdAndSecContext(saved_userid, saved_sec_context);
	if (ret < 0)
		elog(ERROR, "undoredo: replay statement failed: %s: %s",
			 SPI_result_code_string(ret), st->sql.data);
	if (SPI_processed > 1 && ret != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("undoredo: a replay statement matched " UINT64_FORMAT " rows of one key",
						SPI_processed)));
	return SPI_processed;
}

/* How a row was changed outside the history: a conflict */
typedef enum Conflict
{
	ROW_GONE,					/* the row replay changes no longer exists */
	ROW_CHANGED,				/* it holds other values than recorded */
	ROW_EXISTS					/* a row holds the key replay would create */
} Conflict;

/* The message of a conflict, for conflict's ereport */
static int
conflict_errmsg(const ReplayContext *rc, Conflict kind, const char *key)
{
	const char *table = rc->ti->relname;

	switch (kind)
	{
		case ROW_GONE:
			return rc->revert ?
				errmsg("cannot revert step " INT64_FORMAT ": row %s of table \"%s\" no longer exists",
					   rc->step, key, table) :
				rc->undo ?
				errmsg("cannot undo step " INT64_FORMAT ": row %s of table \"%s\" no longer exists",
					   rc->step, key, table) :
				errmsg("cannot redo step " INT64_FORMAT ": row %s of table \"%s\" no longer exists",
					   rc->step, key, table);
		case ROW_CHANGED:
			return rc->revert ?
				errmsg("cannot revert step " INT64_FORMAT ": row %s of table \"%s\" has been changed since",
					   rc->step, key, table) :
				rc->undo ?
				errmsg("cannot undo step " INT64_FORMAT ": row %s of table \"%s\" has been changed since",
					   rc->step, key, table) :
				errmsg("cannot redo step " INT64_FORMAT ": row %s of table \"%s\" has been changed since",
					   rc->step, key, table);
		case ROW_EXISTS:
			break;
	}
	return rc->revert ?
		errmsg("cannot revert step " INT64_FORMAT ": row %s of table \"%s\" exists again",
			   rc->step, key, table) :
		rc->undo ?
		errmsg("cannot undo step " INT64_FORMAT ": row %s of table \"%s\" exists again",
			   rc->step, key, table) :
		errmsg("cannot redo step " INT64_FORMAT ": row %s of table \"%s\" exists again",
			   rc->step, key, table);
}

/* Does the image hold the key of the row expected? */
static bool
same_key(const ReplayContext *rc, RowImage *image, RowImage *expected)
{
	int			i;

	if (image->nvalues == 0)
		return false;
	for (i = 0; i < rc->ti->nkeys; i++)
	{
		ImageValue *a = undoredo_image_find(expected, rc->ti->keys[i]);
		ImageValue *b = undoredo_image_find(image, rc->ti->keys[i]);

		if (a == NULL || b == NULL || !same_value(a, b))
			return false;
	}
	return true;
}

/*
 * The row a conflict is about, as the scope's later steps left it: whether
 * it exists and the values of the columns the replay expected, with the
 * step that last made each so.
 */
typedef struct PredictedRow
{
	bool		exists;
	int64		exists_by;		/* step that made or removed it, or 0 */
	int			ncols;
	ImageValue *values;			/* [ncols]: of the expected image's columns */
	int64	   *by;				/* [ncols]: step that wrote each, or 0 */
} PredictedRow;

/* A later step's change of the row: apply it to the prediction. */
static void
predict_change(const ReplayContext *rc, PredictedRow *row, RowImage *expected,
			   const Change *change, int64 step)
{
	bool		before = (change->op == 'u' || change->op == 'd') &&
		same_key(rc, (RowImage *) &change->before, expected);
	bool		after = (change->op == 'u' || change->op == 'i') &&
		same_key(rc, (RowImage *) &change->after, expected);
	int			i;

	if (change->relid != rc->ti->rootid || (!before && !after))
		return;
	if (!after)
	{
		/* deleted, or re-keyed away */
		row->exists = false;
		row->exists_by = step;
		return;
	}
	if (!before)
	{
		row->exists = true;
		row->exists_by = step;
	}
	for (i = 0; i < row->ncols; i++)
	{
		ImageValue *v = undoredo_image_find((RowImage *) &change->after,
											expected->values[i].attnum);

		if (v == NULL)
			continue;
		row->values[i] = *v;
		row->values[i].data = v->len > 0 ? memcpy(palloc(v->len), v->data, v->len) : NULL;
		row->by[i] = step;
	}
}

/*
 * The undoable step of the scope, later than the replayed one, whose
 * change is why the row is not as the replay expects, or 0 when no step
 * explains it (a write outside the history did it): the scope's later
 * steps are followed from the state the replayed step expects, and the
 * newest step that made the row's existence or one of the expected values
 * differ is named.  A conflict names it.  Only on the way to an error, so
 * it may read the later steps' changes one by one.
 */
static int64
later_step(const ReplayContext *rc, RowImage *expected, bool expect_row)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "undoredo later steps",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	PredictedRow row;
	int64		found = 0;
	int64	   *steps;
	int			nsteps;
	int			i;

	row.exists = expect_row;
	row.exists_by = 0;
	row.ncols = expected->nvalues;
	row.values = palloc(sizeof(ImageValue) * Max(row.ncols, 1));
	row.by = palloc0(sizeof(int64) * Max(row.ncols, 1));
	for (i = 0; i < row.ncols; i++)
		row.values[i] = expected->values[i];
	steps = rc->scope_id == 0 || rc->ti == NULL ? NULL :
		undoredo_store_later_steps(rc->scope_id, rc->step, &nsteps);
	for (i = 0; steps != NULL && i < nsteps; i++)
	{
		UndoRedoChangeScan *scan = undoredo_store_begin_changes(rc->scope_id, steps[i], false);
		Change	   *change;

		while ((change = undoredo_store_next_change(scan)) != NULL)
			predict_change(rc, &row, expected, change, steps[i]);
		undoredo_store_end_changes(scan);
	}
	if (row.exists != expect_row)
		found = row.exists_by;
	else if (row.exists)
	{
		for (i = 0; i < row.ncols; i++)
			if (row.by[i] > found && !same_value(&row.values[i], &expected->values[i]))
				found = row.by[i];
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
	return found;
}

static void
conflict(const ReplayContext *rc, RowImage *image, Conflict kind)
{
	const char *key = key_text(rc, image);
	int64		later = later_step(rc, image, kind != ROW_EXISTS);

	if (later != 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDOREDO_CONFLICT),
				 conflict_errmsg(rc, kind, key),
				 errdetail("Step " INT64_FORMAT " of this history changed the row after step " INT64_FORMAT ".",
						   later, rc->step),
				 errhint("Undo or revert step " INT64_FORMAT " first, or SET undoredo.on_conflict = 'overwrite' to force the recorded state.",
						 later),
				 errtable(rc->rel)));
	ereport(ERROR,
			(errcode(ERRCODE_UNDOREDO_CONFLICT),
			 conflict_errmsg(rc, kind, key),
			 rc->undo ?
			 errdetail("The row was changed outside this history since the step was recorded or redone.") :
			 errdetail("The row was changed outside this history since the step was undone."),
			 errhint("SET undoredo.on_conflict = 'overwrite' to force the recorded state."),
			 errtable(rc->rel)));
}

/*
 * Would the statement change the row if the table's owner ran it, past
 * its row-level security?  Tried in a subtransaction that is rolled back
 * whatever happens, so nothing of it stays (the owner's own triggers run
 * as the owner, as ri_triggers.c runs its checks).
 */
static bool
changes_as_owner(const ReplayContext *rc, Statement *st)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile uint64 n = 0;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		n = execute(rc, st, true);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			PG_RE_THROW();
		FlushErrorState();
		FreeErrorData(edata);
		n = 0;
	}
	PG_END_TRY();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
	return n > 0;
}

/*
 * Row-level security keeps the caller from the row: it hides it, or it
 * does not let the caller change it.
 */
static void
refuse_rls(const ReplayContext *rc, RowImage *row, bool hidden)
{
	const char *key = key_text(rc, row);
	const char *role = GetUserNameFromId(GetUserId(), false);

	if (hidden)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 rc->revert ?
				 errmsg("permission denied to revert step " INT64_FORMAT ": row %s of table \"%s\" is not visible to role \"%s\"",
						rc->step, key, rc->ti->relname, role) :
				 rc->undo ?
				 errmsg("permission denied to undo step " INT64_FORMAT ": row %s of table \"%s\" is not visible to role \"%s\"",
						rc->step, key, rc->ti->relname, role) :
				 errmsg("permission denied to redo step " INT64_FORMAT ": row %s of table \"%s\" is not visible to role \"%s\"",
						rc->step, key, rc->ti->relname, role),
				 errdetail("Row-level security hides the row; undo and redo change only rows the caller could change by hand."),
				 errtable(rc->rel)));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 rc->revert ?
			 errmsg("permission denied to revert step " INT64_FORMAT ": row %s of table \"%s\" cannot be changed by role \"%s\"",
					rc->step, key, rc->ti->relname, role) :
			 rc->undo ?
			 errmsg("permission denied to undo step " INT64_FORMAT ": row %s of table \"%s\" cannot be changed by role \"%s\"",
					rc->step, key, rc->ti->relname, role) :
			 errmsg("permission denied to redo step " INT64_FORMAT ": row %s of table \"%s\" cannot be changed by role \"%s\"",
					rc->step, key, rc->ti->relname, role),
			 errdetail("Row-level security does not let the role change the row; undo and redo change only rows the caller could change by hand."),
			 errtable(rc->rel)));
}

/*
 * The DELETE or UPDATE st of the row with this key touched nothing: find
 * out why, against the row as it is now, and raise the error that says so.
 * Returns false when the row is gone and undoredo.on_conflict is overwrite
 * (the change is skipped), true when st, run again, did change the row (a
 * concurrent writer had changed it and changed it back, say: the statement
 * saw another version of the row than these checks).
 *
 * A row that exists, is visible to the caller and holds the recorded
 * values, yet was not changed, was kept from it by row-level security (the
 * owner, past the policies, would change it: 42501) or by a BEFORE ROW
 * trigger that returned NULL (named in the error; never UR001, which means
 * a change outside the history).
 */
static bool
diagnose(const ReplayContext *rc, RowImage *expected, Statement *stmt, int event)
{
	Source		src = {.image = expected};
	Statement	st;
	StringInfoData names;

	statement_init(&st);
	build_key_lookup(rc, &st, &src);
	if (execute(rc, &st, true) == 0)
	{
		if (rc->overwrite)
			return false;
		conflict(rc, expected, ROW_GONE);
	}
	if (execute(rc, &st, false) == 0)
		refuse_rls(rc, expected, true);
	if (!rc->overwrite)
	{
		append_exact_matches(rc, &st, &src, usable_columns(rc, expected));
		if (execute(rc, &st, false) == 0)
			conflict(rc, expected, ROW_CHANGED);
	}

	/* the row is as expected now: did the statement see another version? */
	if (execute(rc, stmt, false) > 0)
		return true;

	if (check_enable_rls(rc->ti->rootid, InvalidOid, true) == RLS_ENABLED &&
		changes_as_owner(rc, stmt))
		refuse_rls(rc, expected, false);

	initStringInfo(&names);
	(void) table_before_row(rc->ti->rootid, event, &names);
	ereport(ERROR,
			(errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
			 rc->revert ?
			 errmsg("cannot revert step " INT64_FORMAT ": a trigger kept the revert from changing row %s of table \"%s\"",
					rc->step, key_text(rc, expected), rc->ti->relname) :
			 rc->undo ?
			 errmsg("cannot undo step " INT64_FORMAT ": a trigger kept undo from changing row %s of table \"%s\"",
					rc->step, key_text(rc, expected), rc->ti->relname) :
			 errmsg("cannot redo step " INT64_FORMAT ": a trigger kept redo from changing row %s of table \"%s\"",
					rc->step, key_text(rc, expected), rc->ti->relname),
			 names.len ?
			 errdetail("The row holds the recorded values and the statement that restores it changed nothing; BEFORE ROW triggers on the table: %s.",
					   names.data) :
			 errdetail("The row holds the recorded values and the statement that restores it changed nothing; the table has no BEFORE ROW triggers now."),
			 errhint("Make the trigger leave replays alone, e.g. with WHEN (current_setting('undoredo.replaying') = 'off') in CREATE TRIGGER."),
			 errtable(rc->rel)));
	return false;				/* keep the compiler quiet */
}

/*
 * Foreign key actions (ON DELETE CASCADE and the like) queued by a replay
 * statement fire at the end of the step, on its final state.  If the step
 * removed a key of a table with such actions and then re-created it, the
 * action would hit the rows that reference the re-created key, which the
 * replay has restored.  Removed keys are therefore remembered (a 64-bit
 * hash of table and key), and re-creating one is refused.
 */
static uint64
key_hash(const ReplayContext *rc, RowImage *image)
{
	uint64		hash = rc->ti->rootid;
	int			i;

	for (i = 0; i < rc->ti->nkeys; i++)
	{
		ImageValue *v = undoredo_image_find(image, rc->ti->keys[i]);

		if (v == NULL)
			continue;
		hash = hash_combine64(hash, hash_bytes_uint32((uint32) v->format));
		if (v->format != 'n')
			hash = hash_combine64(hash,
								  hash_bytes_extended((const unsigned char *) v->data,
													  v->len, i));
	}
	return hash;
}

/* Does the table (or, partitioned, its root) have the capture trigger? */
static bool
is_tracked(Relation rel)
{
	int			i;

	for (i = 0; rel->trigdesc != NULL && i < rel->trigdesc->numtriggers; i++)
		if (strcmp(rel->trigdesc->triggers[i].tgname, "undoredo_capture") == 0)
			return true;
	return false;
}

/* "OPERATOR(ns.name)" of an operator */
static char *
operator_sql(Oid opno)
{
	HeapTuple	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	Form_pg_operator form;
	char	   *result;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for operator %u", opno);
	form = (Form_pg_operator) GETSTRUCT(tuple);
	result = psprintf("OPERATOR(%s.%s)",
					  quote_identifier(get_namespace_name(form->oprnamespace)),
					  NameStr(form->oprname));
	ReleaseSysCache(tuple);
	return result;
}

/* The foreign keys with actions into the table from untracked tables. */
static List *
untracked_actions(Oid relid)
{
	Relation	conrel = table_open(ConstraintRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(conrel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tuple;
	List	   *result = NIL;

	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
		bool		on_delete = con->confdeltype == FKCONSTR_ACTION_CASCADE ||
			con->confdeltype == FKCONSTR_ACTION_SETNULL ||
			con->confdeltype == FKCONSTR_ACTION_SETDEFAULT;
		bool		on_update = con->confupdtype == FKCONSTR_ACTION_CASCADE ||
			con->confupdtype == FKCONSTR_ACTION_SETNULL ||
			con->confupdtype == FKCONSTR_ACTION_SETDEFAULT;
		Relation	child;
		UntrackedAction *ua;
		AttrNumber	fkattnums[INDEX_MAX_KEYS];
		Oid			pfeqops[INDEX_MAX_KEYS];
		int			i;

		if (con->contype != CONSTRAINT_FOREIGN || con->confrelid != relid ||
			OidIsValid(con->conparentid) || !(on_delete || on_update))
			continue;
		child = relation_open(con->conrelid, AccessShareLock);
		if (is_tracked(child))
		{
			relation_close(child, AccessShareLock);
			continue;
		}
		ua = palloc0(sizeof(UntrackedAction));
		ua->conrelid = con->conrelid;
		ua->owner = child->rd_rel->relowner;
		ua->conname = pstrdup(NameStr(con->conname));
		ua->table = pstrdup(RelationGetRelationName(child));
		ua->target = psprintf("%s%s",
							  child->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ",
							  quote_qualified_identifier(get_namespace_name(RelationGetNamespace(child)),
														 RelationGetRelationName(child)));
		ua->on_delete = on_delete;
		ua->on_update = on_update;
		DeconstructFkConstraintRow(tuple, &ua->nkeys, fkattnums, ua->pkattnums,
								   pfeqops, NULL, NULL, NULL, NULL);
		for (i = 0; i < ua->nkeys; i++)
		{
			ua->fkcols[i] = pstrdup(quote_identifier(NameStr(TupleDescAttr(RelationGetDescr(child),
																			fkattnums[i] - 1)->attname)));
			ua->ops[i] = operator_sql(pfeqops[i]);
		}
		relation_close(child, AccessShareLock);
		result = lappend(result, ua);
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);
	return result;
}

/*
 * Before replay removes the row (deleting) or changes its key: would a
 * foreign key action change rows of an untracked table?  Those rows are
 * outside every history, so that is a conflict (UR001), unless overwrite.
 * The referencing rows are looked for as the referencing table's owner,
 * past its row-level security, as PostgreSQL's action itself runs.
 */
static void
check_untracked_actions(const ReplayContext *rc, RowImage *image, bool deleting)
{
	Source		src = {.image = image};
	ListCell   *lc;

	if (rc->overwrite)
		return;
	foreach(lc, rc->untracked)
	{
		UntrackedAction *ua = (UntrackedAction *) lfirst(lc);
		Relation	child;
		Statement	st;
		Oid			saved_userid;
		int			saved_sec_context;
		int			ret;
		int			i;

		if (!(deleting ? ua->on_delete : ua->on_update))
			continue;
		statement_init(&st);
		appendStringInfo(&st.sql, "SELECT 1 FROM %s WHERE true", ua->target);
		for (i = 0; i < ua->nkeys; i++)
		{
			ImageValue *v = undoredo_image_find(image, ua->pkattnums[i]);

			if (v == NULL || v->format == 'n' || !usable(rc, v))
				break;			/* the action matches no row by a null */
			appendStringInfo(&st.sql, " AND %s %s %s",
							 source_value(rc, &st, &src, v->attnum, false),
							 ua->ops[i], ua->fkcols[i]);
		}
		if (i < ua->nkeys)
			continue;
		appendStringInfoString(&st.sql, " LIMIT 1");

		GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
		SetUserIdAndSecContext(ua->owner,
							   saved_sec_context | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_NOFORCE_RLS);
		ret = undoredo_execute_plan(undoredo_plan(ua->conrelid, st.sql.data,
												  st.nargs, st.argtypes),
									st.values, st.nulls, InvalidSnapshot, false, 1);
		SetUserIdAndSecContext(saved_userid, saved_sec_context);
		if (ret < 0)
			elog(ERROR, "undoredo: replay statement failed: %s: %s",
				 SPI_result_code_string(ret), st.sql.data);
		if (SPI_processed == 0)
			continue;
		/* the statement locked it */
		child = relation_open(ua->conrelid, NoLock);
		ereport(ERROR,
				(errcode(ERRCODE_UNDOREDO_CONFLICT),
				 rc->revert ?
				 errmsg("cannot revert step " INT64_FORMAT ": the action of foreign key \"%s\" would change rows of table \"%s\" that reference row %s of table \"%s\"",
						rc->step, ua->conname, ua->table, key_text(rc, image),
						rc->ti->relname) :
				 rc->undo ?
				 errmsg("cannot undo step " INT64_FORMAT ": the action of foreign key \"%s\" would change rows of table \"%s\" that reference row %s of table \"%s\"",
						rc->step, ua->conname, ua->table, key_text(rc, image),
						rc->ti->relname) :
				 errmsg("cannot redo step " INT64_FORMAT ": the action of foreign key \"%s\" would change rows of table \"%s\" that reference row %s of table \"%s\"",
						rc->step, ua->conname, ua->table, key_text(rc, image),
						rc->ti->relname),
				 errdetail("Table \"%s\" is not tracked: rows that the action deletes or sets are outside every history.",
						   ua->table),
				 errhint("Track \"%s\" too, or SET undoredo.on_conflict = 'overwrite' to let the action proceed.",
						 ua->table),
				 errtableconstraint(child, ua->conname)));
	}
}

static void
key_removed(const ReplayContext *rc, RowImage *image)
{
	uint64		hash;

	if (!rc->ti->fk_actions)
		return;
	hash = key_hash(rc, image);
	(void) hash_search(rc->removed_keys, &hash, HASH_ENTER, NULL);
}

static void
key_created(const ReplayContext *rc, RowImage *image)
{
	uint64		hash;

	if (!rc->ti->fk_actions)
		return;
	hash = key_hash(rc, image);
	if (hash_search(rc->removed_keys, &hash, HASH_FIND, NULL) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 rc->revert ?
				 errmsg("cannot revert step " INT64_FORMAT ": it removes and re-creates row %s of table \"%s\", which foreign keys with ON DELETE or ON UPDATE actions reference",
						rc->step, key_text(rc, image), rc->ti->relname) :
				 rc->undo ?
				 errmsg("cannot undo step " INT64_FORMAT ": it removes and re-creates row %s of table \"%s\", which foreign keys with ON DELETE or ON UPDATE actions reference",
						rc->step, key_text(rc, image), rc->ti->relname) :
				 errmsg("cannot redo step " INT64_FORMAT ": it removes and re-creates row %s of table \"%s\", which foreign keys with ON DELETE or ON UPDATE actions reference",
						rc->step, key_text(rc, image), rc->ti->relname),
				 errdetail("PostgreSQL applies such actions at the end of the step, so they would hit the rows that reference the re-created row."),
				 errtable(rc->rel)));
}

/* Remove the row the image describes. */
static void
replay_remove(const ReplayContext *rc, RowImage *image)
{
	Source		src = {.image = image};
	Statement	st;

	statement_init(&st);
	build_remove(rc, &st, &src);
	if (execute(rc, &st, false) == 0)
		(void) diagnose(rc, image, &st, EVENT_DELETE);
}

static bool
same_value(const ImageValue *a, const ImageValue *b)
{
	return a->format == b->format && a->len == b->len &&
		(a->format == 'n' || memcmp(a->data, b->data, a->len) == 0);
}

/* Change the row from one image to the other (same columns). */
static void
replay_update(const ReplayContext *rc, RowImage *from, RowImage *to)
{
	TableInfo  *ti = rc->ti;
	Source		from_src = {.image = from};
	Source		to_src = {.image = to};
	Statement	st;
	Bitmapset  *set = NULL;
	bool		key_changes = false;
	Bitmapset  *cols = NULL;
	int			i;

	for (i = 0; i < to->nvalues; i++)
	{
		ImageValue *v = &to->values[i];
		ImageValue *f = undoredo_image_find(from, v->attnum);

		if (!usable(rc, v) || (f != NULL && same_value(f, v)))
			continue;
		if (ti->cols[v->attnum - 1].identity_always)
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 rc->revert ?
					 errmsg("cannot revert step " INT64_FORMAT ": it changed column \"%s\" of table \"%s\", which is GENERATED ALWAYS AS IDENTITY",
							rc->step, NameStr(ti->cols[v->attnum - 1].name),
							ti->relname) :
					 rc->undo ?
					 errmsg("cannot undo step " INT64_FORMAT ": it changed column \"%s\" of table \"%s\", which is GENERATED ALWAYS AS IDENTITY",
							rc->step, NameStr(ti->cols[v->attnum - 1].name),
							ti->relname) :
					 errmsg("cannot redo step " INT64_FORMAT ": it changed column \"%s\" of table \"%s\", which is GENERATED ALWAYS AS IDENTITY",
							rc->step, NameStr(ti->cols[v->attnum - 1].name),
							ti->relname),
					 errdetail("PostgreSQL lets an UPDATE set such a column only to DEFAULT."),
					 errhint("ALTER the column to GENERATED BY DEFAULT AS IDENTITY to make such steps replayable."),
					 errtablecol(rc->rel, v->attnum)));
		key_changes |= ti->cols[v->attnum - 1].eqop != NULL;
		set = bms_add_member(set, v->attnum);
	}
	if (set == NULL)
		return;					/* every changed column was dropped since */
	statement_init(&st);
	build_update(rc, &st, &from_src, &to_src, set);

	/*
	 * A key change back to a key that another row took since is a conflict
	 * too.  (Not for a deferrable key: within a step two rows may share it.)
	 * The row being changed is not "another row", even when its key is '='
	 * to the target (numeric 1.5 and 1.50, citext 'abc' and 'ABC'): rows
	 * whose key has the stored form of the row's current key do not count.
	 */
	if (key_changes && !ti->key_deferrable &&
		!rc->overwrite)
	{
		Statement	taken;

		statement_init(&taken);
		build_key_lookup(rc, &taken, &to_src);
		append_other_key(rc, &taken, from);
		if (execute(rc, &taken, true) > 0)
			conflict(rc, to, ROW_EXISTS);
	}
	if (key_changes)
	{
		key_removed(rc, from);
		key_created(rc, to);
		check_untracked_actions(rc, from, false);
	}
	if (rc->before_row & EVENT_UPDATE)
	{
		cols = usable_columns(rc, to);
		append_returning(rc, &st, &to_src, "1", cols);
	}
	if (execute(rc, &st, false) == 0 &&
		!diagnose(rc, from, &st, EVENT_UPDATE))
		return;					/* gone, and overwrite: skipped */
	Assert(SPI_processed == 1);
	if (rc->before_row & EVENT_UPDATE)
		check_written(rc, to, cols, SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
					  2, EVENT_UPDATE);
}

/* Does a row hold the image's key (seen past row-level security)? */
static bool
key_exists(const ReplayContext *rc, RowImage *image)
{
	Source		src = {.image = image};
	Statement	st;

	statement_init(&st);
	build_key_lookup(rc, &st, &src);
	return execute(rc, &st, true) > 0;
}

/* Insert the row the image describes. */
static void
replay_insert(const ReplayContext *rc, RowImage *image)
{
	TableInfo  *ti = rc->ti;
	Source		src = {.image = image};
	Statement	st;
	StringInfoData names;
	Bitmapset  *cols = NULL;

	if (ti->key_deferrable && key_exists(rc, image))
	{
		/* ON CONFLICT cannot use a deferrable key: look first */
		if (!rc->overwrite)
			conflict(rc, image, ROW_EXISTS);
		replay_remove(rc, image);
	}

	statement_init(&st);
	build_insert(rc, &st, &src);
	if (rc->before_row & insert_events(rc))
	{
		cols = usable_columns(rc, image);
		append_returning(rc, &st, &src, "1", cols);
	}
	if (execute(rc, &st, false) == 0)
	{
		/* a row holds the key (with overwrite: one it cannot change) */
		if (key_exists(rc, image))
		{
			if (!rc->overwrite)
				conflict(rc, image, ROW_EXISTS);
			return;
		}
		/* the statement saw another version of a row since deleted? */
		if (execute(rc, &st, false) == 0)
		{
			initStringInfo(&names);
			(void) table_before_row(ti->rootid, EVENT_INSERT, &names);
			ereport(ERROR,
					(errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
					 rc->revert ?
					 errmsg("cannot revert step " INT64_FORMAT ": a trigger kept the revert from inserting row %s of table \"%s\"",
							rc->step, key_text(rc, image), ti->relname) :
					 rc->undo ?
					 errmsg("cannot undo step " INT64_FORMAT ": a trigger kept undo from inserting row %s of table \"%s\"",
							rc->step, key_text(rc, image), ti->relname) :
					 errmsg("cannot redo step " INT64_FORMAT ": a trigger kept redo from inserting row %s of table \"%s\"",
							rc->step, key_text(rc, image), ti->relname),
					 names.len ?
					 errdetail("No row holds the key and the statement that restores it inserted nothing; BEFORE ROW triggers on the table: %s.",
							   names.data) :
					 errdetail("No row holds the key and the statement that restores it inserted nothing; the table has no BEFORE ROW triggers now."),
					 errhint("Make the trigger leave replays alone, e.g. with WHEN (current_setting('undoredo.replaying') = 'off') in CREATE TRIGGER."),
					 errtable(rc->rel)));
		}
	}
	Assert(SPI_processed == 1);
	if (rc->before_row & insert_events(rc))
		check_written(rc, image, cols, SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
					  2, insert_events(rc));
}

/*
 * Set-based replay.  A run of consecutive changes of one kind to one table
 * that record the same columns is applied by one statement per up to
 * BATCH_ROWS rows: the statement joins the table to pg_catalog.unnest() of
 * arrays of the table's row type, with the key and exact-value conditions
 * of a single change, and returns which rows it matched.  Only runs whose
 * rows cannot interfere are batched, so that the order within a run does
 * not matter: removals and re-insertions always (the rows of such a run
 * all existed together before or after it), updates when they keep the
 * key and change no column of an immediate unique index; and a key never
 * appears twice in a run.  When fewer rows match than the run holds, the
 * first of them in replay order is diagnosed as a single change would be:
 * the error rolls the whole call back.  Everything else is replayed one
 * change at a time.
 */
#define BATCH_ROWS 1000

typedef enum BatchKind
{
	BATCH_REMOVE,
	BATCH_INSERT,
	BATCH_UPDATE
} BatchKind;

typedef struct ReturnedKey
{
	uint64		hash;			/* key_hash of the row's key */
	int			index;			/* of its image in the batch */
} ReturnedKey;

typedef struct Batch
{
	BatchKind	kind;
	TableInfo  *ti;
	Bitmapset  *cols;			/* the usable recorded columns of every row */
	int			n;
	RowImage   *from[BATCH_ROWS];	/* remove, update: the row as it must be */
	RowImage   *to[BATCH_ROWS]; /* insert, update: the row to make */
	HTAB	   *keys;			/* key hashes of the rows */
	Relation	rel;			/* ReplayContext.rel of ti */
	int			before_row;		/* ReplayContext.before_row of ti */
	MemoryContext cxt;
} Batch;


static RowImage *
copy_image(RowImage *image)
{
	RowImage   *copy = palloc(sizeof(RowImage));
	int			i;

	copy->nvalues = image->nvalues;
	copy->values = palloc(sizeof(ImageValue) * Max(image->nvalues, 1));
	for (i = 0; i < image->nvalues; i++)
	{
		ImageValue *v = &copy->values[i];

		*v = image->values[i];
		if (v->data != NULL)
		{
			char	   *data = palloc(Max(v->len, 1));

			memcpy(data, image->values[i].data, v->len);
			v->data = data;
		}
	}
	return copy;
}

/* The columns of the table's row type (dropped ones are not). */
static int
live_columns(TableInfo *ti)
{
	int			i;
	int			n = 0;

	for (i = 0; i < ti->natts; i++)
		if (!ti->cols[i].dropped)
			n++;
	return n;
}

/* Can this change join a run?  Sets *cols to its usable recorded columns. */
static bool
batchable(const ReplayContext *rc, BatchKind kind, RowImage *from,
		  RowImage *to, Bitmapset **cols)
{
	TableInfo  *ti = rc->ti;
	int			i;

	if (ti->key_deferrable)
		return false;
	/* a change with a large value goes alone: a batch copies its rows more */
	for (i = 0; from != NULL && i < from->nvalues; i++)
		if (from->values[i].len > LARGE_VALUE)
			return false;
	for (i = 0; to != NULL && i < to->nvalues; i++)
		if (to->values[i].len > LARGE_VALUE)
			return false;
	*cols = usable_columns(rc, kind == BATCH_INSERT ? to : from);
	for (i = 0; i < ti->nkeys; i++)
		if (!bms_is_member(ti->keys[i], *cols))
			return false;
	if (kind != BATCH_UPDATE)
		return true;

	/*
	 * A set-based update reads the old and the new rows side by side from
	 * ROWS FROM: twice the table's live columns, and a query returns at most
	 * MaxTupleAttributeNumber columns.  A wider table (over about 830
	 * columns) is updated one row at a time.
	 */
	if (2 * live_columns(ti) + 1 > MaxTupleAttributeNumber)
		return false;
	if (!bms_equal(*cols, usable_columns(rc, to)) || ti->unique_expr ||
		bms_num_members(*cols) <= ti->nkeys)
		return false;			/* every changed column dropped: per row */
	for (i = 0; i < to->nvalues; i++)
	{
		ImageValue *v = &to->values[i];
		ImageValue *f = undoredo_image_find(from, v->attnum);
		ColumnInfo *col;

		if (!bms_is_member(v->attnum, *cols))
			continue;
		col = &ti->cols[v->attnum - 1];
		if (col->eqop != NULL)
		{
			if (f == NULL || !same_value(f, v))
				return false;	/* a key change */
		}
		else if (col->identity_always || bms_is_member(v->attnum, ti->unique_cols))
			return false;
	}
	return true;
}

/* The image as a datum of the table's row type; other columns null. */
static Datum
image_row(const ReplayContext *rc, RowImage *image, bool written)
{
	TableInfo  *ti = rc->ti;
	Datum	   *values = palloc0(sizeof(Datum) * ti->natts);
	bool	   *nulls = palloc(sizeof(bool) * ti->natts);
	int			i;

	memset(nulls, true, sizeof(bool) * ti->natts);
	for (i = 0; i < image->nvalues; i++)
	{
		ImageValue *v = &image->values[i];

		if (!usable(rc, v) || v->format == 'n')
			continue;
		values[v->attnum - 1] = replay_datum(rc, v, written);
		nulls[v->attnum - 1] = false;
	}
	return heap_copy_tuple_as_datum(heap_form_tuple(ti->rootdesc, values, nulls),
									ti->rootdesc);
}

static Datum
rows_array(const ReplayContext *rc, RowImage **images, int n, bool written)
{
	Datum	   *rows = palloc(sizeof(Datum) * n);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	for (i = 0; i < n; i++)
		rows[i] = image_row(rc, images[i], written);
	get_typlenbyvalalign(rc->ti->rootdesc->tdtypeid, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_array(rows, n, rc->ti->rootdesc->tdtypeid,
										   typlen, typbyval, typalign));
}

/* "AS v(p_1, p_2, ...)": the columns of the row type, prefixed */
static void
append_row_aliases(StringInfo sql, TableInfo *ti, const char *prefix)
{
	int			i;
	bool		first = true;

	for (i = 0; i < ti->natts; i++)
	{
		if (ti->cols[i].dropped)
			continue;
		appendStringInfo(sql, "%s%s%d", first ? "" : ", ", prefix, i + 1);
		first = false;
	}
}

/*
 * The FROM item of a run's statement: its rows as v, as they must be (o,
 * from $1) and for an update also as they become (n, from $2), numbered
 * (ord) but for an insert, which returns its rows' keys instead.
 */
static char *
batch_rows(const Batch *b)
{
	StringInfoData rows;

	initStringInfo(&rows);
	if (b->kind == BATCH_UPDATE)
		appendStringInfoString(&rows, "ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2))");
	else
		appendStringInfoString(&rows, "pg_catalog.unnest($1)");
	if (b->kind != BATCH_INSERT)
		appendStringInfoString(&rows, " WITH ORDINALITY");
	appendStringInfoString(&rows, " AS v(");
	append_row_aliases(&rows, b->ti, "o");
	if (b->kind == BATCH_UPDATE)
	{
		appendStringInfoString(&rows, ", ");
		append_row_aliases(&rows, b->ti, "n");
	}
	if (b->kind != BATCH_INSERT)
		appendStringInfoString(&rows, ", ord");
	appendStringInfoChar(&rows, ')');
	return rows.data;
}

/* key_hash of a key given as the send forms of its columns */
static uint64
sent_key_hash(const ReplayContext *rc, bytea **sent)
{
	RowImage	image;
	int			i;

	image.nvalues = rc->ti->nkeys;
	image.values = palloc(sizeof(ImageValue) * rc->ti->nkeys);
	for (i = 0; i < rc->ti->nkeys; i++)
	{
		image.values[i].attnum = rc->ti->keys[i];
		image.values[i].format = 'b';
		image.values[i].data = VARDATA(sent[i]);
		image.values[i].len = VARSIZE(sent[i]) - VARHDRSZ;
	}
	return key_hash(rc, &image);
}

/* Hash of the key of a row that a batch INSERT returned. */
static uint64
returned_key_hash(const ReplayContext *rc, HeapTuple tuple, TupleDesc desc)
{
	bytea	  **sent = palloc(sizeof(bytea *) * rc->ti->nkeys);
	int			i;

	for (i = 0; i < rc->ti->nkeys; i++)
	{
		bool		isnull;

		sent[i] = SendFunctionCall(&rc->ti->cols[rc->ti->keys[i] - 1].send_finfo,
								   SPI_getbinval(tuple, desc, i + 1, &isnull));
	}
	return sent_key_hash(rc, sent);
}

/* The same hash of the key of a recorded row. */
static uint64
image_key_hash(const ReplayContext *rc, RowImage *row)
{
	bytea	  **sent = palloc(sizeof(bytea *) * rc->ti->nkeys);
	int			i;

	for (i = 0; i < rc->ti->nkeys; i++)
		sent[i] = undoredo_image_sent(rc->ti,
									  undoredo_image_find(row, rc->ti->keys[i]));
	return sent_key_hash(rc, sent);
}

/* Apply the collected run, then start an empty one. */
static void
batch_flush(ReplayContext *rc)
{
	Batch	   *b = rc->batch;
	TableInfo  *saved_ti = rc->ti;
	Relation	saved_rel = rc->rel;
	int			saved_before_row = rc->before_row;
	MemoryContext oldcxt;
	Oid			arraytype;
	Source		from;
	Source		to;
	Statement	st;
	SPIPlanPtr	plan;
	int			ret;
	int			i;

	if (b->n == 0)
		return;
	rc->ti = b->ti;
	rc->rel = b->rel;
	rc->before_row = b->before_row;
	oldcxt = MemoryContextSwitchTo(b->cxt);
	from = (Source) {.prefix = "o", .rows = batch_rows(b), .cols = b->cols};
	to = from;
	if (b->kind == BATCH_UPDATE)
		to.prefix = "n";
	arraytype = get_array_type(b->ti->rootdesc->tdtypeid);
	statement_init(&st);
	if (b->kind != BATCH_INSERT)
		(void) add_param(&st, arraytype, rows_array(rc, b->from, b->n, false), false);
	if (b->kind != BATCH_REMOVE)
		(void) add_param(&st, arraytype, rows_array(rc, b->to, b->n, true), false);
	switch (b->kind)
	{
		case BATCH_REMOVE:
			build_remove(rc, &st, &from);
			append_returning(rc, &st, &from, "v.ord", NULL);
			break;
		case BATCH_UPDATE:
			{
				Bitmapset  *set = NULL;
				int			x = -1;

				/* batchable: no key column changes */
				while ((x = bms_next_member(b->cols, x)) >= 0)
					if (b->ti->cols[x - 1].eqop == NULL)
						set = bms_add_member(set, x);
				build_update(rc, &st, &from, &to, set);
				append_returning(rc, &st, &from, "v.ord",
								 (b->before_row & EVENT_UPDATE) ? b->cols : NULL);
				break;
			}
		case BATCH_INSERT:
			build_insert(rc, &st, &to);
			append_returning(rc, &st, &to, key_columns(b->ti, &to),
							 (b->before_row & insert_events(rc)) ? b->cols : NULL);
			break;
	}

	/* the row arrays are $1 and $2, as batch_rows names them */
	Assert(st.nargs == (b->kind == BATCH_UPDATE ? 2 : 1));
	Assert(undoredo_replaying);
	plan = undoredo_plan(b->ti->rootid, st.sql.data, st.nargs, st.argtypes);
	ret = undoredo_execute_plan(plan, st.values, st.nulls, InvalidSnapshot, false, 0);
	MemoryContextSwitchTo(b->cxt);
	if (ret < 0)
		elog(ERROR, "undoredo: replay statement failed: %s: %s",
			 SPI_result_code_string(ret), st.sql.data);

	/*
	 * Each recorded row must have matched exactly one row: an insert
	 * returns the keys it made (checked when some are missing), a removal
	 * or update the ordinal of each recorded row it matched (always
	 * checked, so that a recorded row matching two rows is caught even when
	 * the count happens to be right).
	 */
	if (SPI_processed > (uint64) b->n)
		elog(ERROR, "undoredo: a replay statement matched " UINT64_FORMAT " rows for %d recorded rows",
			 SPI_processed, b->n);
	if (b->kind == BATCH_INSERT &&
		(SPI_processed != (uint64) b->n || (b->before_row & insert_events(rc))))
	{
		HASHCTL		ctl;
		HTAB	   *images;
		ReturnedKey *entry;
		bool	   *made = palloc0(sizeof(bool) * b->n);
		SPITupleTable *returned = SPI_tuptable;
		uint64		nreturned = SPI_processed;
		uint64		k;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(ReturnedKey);
		ctl.hcxt = b->cxt;
		images = hash_create("undoredo inserted keys", b->n, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		for (i = 0; i < b->n; i++)
		{
			uint64		hash = image_key_hash(rc, b->to[i]);

			entry = hash_search(images, &hash, HASH_ENTER, NULL);
			entry->index = i;
		}
		for (k = 0; k < nreturned; k++)
		{
			uint64		hash = returned_key_hash(rc, returned->vals[k],
												 returned->tupdesc);

			entry = hash_search(images, &hash, HASH_FIND, NULL);
			if (entry == NULL || made[entry->index])
				elog(ERROR, "undoredo: a replay statement inserted a row it was not given");
			made[entry->index] = true;
			if (b->before_row & insert_events(rc))
				check_written(rc, b->to[entry->index], b->cols, returned->vals[k],
							  returned->tupdesc, b->ti->nkeys + 1,
							  insert_events(rc));
		}
		/*
		 * The rows not made, in replay order: a row holds the key (a
		 * conflict, or one overwrite cannot change), or not (the statement
		 * saw a row since deleted, or a trigger kept the row out: the row is
		 * inserted on its own, which tells).
		 */
		for (i = 0; i < b->n; i++)
		{
			if (made[i])
				continue;
			if (key_exists(rc, b->to[i]))
			{
				if (!rc->overwrite)
					conflict(rc, b->to[i], ROW_EXISTS);
			}
			else
				replay_insert(rc, b->to[i]);
			MemoryContextSwitchTo(b->cxt);
		}
	}
	else if (b->kind != BATCH_INSERT)
	{
		bool	   *matched = palloc0(sizeof(bool) * b->n);
		uint64		k;

		for (k = 0; k < SPI_processed; k++)
		{
			bool		isnull;
			int64		ord = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[k],
														  SPI_tuptable->tupdesc,
														  1, &isnull));

			if (ord < 1 || ord > b->n || matched[ord - 1])
				elog(ERROR, "undoredo: a replay statement matched a recorded row twice");
			matched[ord - 1] = true;
			if (b->kind == BATCH_UPDATE && (b->before_row & EVENT_UPDATE))
				check_written(rc, b->to[ord - 1], b->cols, SPI_tuptable->vals[k],
							  SPI_tuptable->tupdesc, 2, EVENT_UPDATE);
		}
		/*
		 * Replay the rows that did not match one by one, in replay order: the
		 * first that fails is diagnosed as a single change (the order within
		 * a run does not matter).
		 */
		for (i = 0; i < b->n; i++)
		{
			if (matched[i])
				continue;
			if (b->kind == BATCH_REMOVE)
				replay_remove(rc, b->from[i]);
			else
				replay_update(rc, b->from[i], b->to[i]);
			MemoryContextSwitchTo(b->cxt);
		}
	}
	SPI_freetuptable(SPI_tuptable);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(b->cxt);
	b->n = 0;
	b->keys = NULL;
	rc->ti = saved_ti;
	rc->rel = saved_rel;
	rc->before_row = saved_before_row;
}

/*
 * Add a change to the run if it can join it (flushing the run first when
 * this change starts another); returns false when the change must be
 * replayed on its own, after the run.
 */
static bool
batch_add(ReplayContext *rc, BatchKind kind, RowImage *from, RowImage *to)
{
	Batch	   *b = rc->batch;
	Bitmapset  *cols;
	MemoryContext oldcxt;
	uint64		hash;

	if (!batchable(rc, kind, from, to, &cols))
	{
		batch_flush(rc);
		return false;
	}
	hash = key_hash(rc, kind == BATCH_INSERT ? to : from);
	if (b->n > 0 &&
		(b->kind != kind || b->ti != rc->ti || !bms_equal(b->cols, cols) ||
		 b->n == BATCH_ROWS ||
		 hash_search(b->keys, &hash, HASH_FIND, NULL) != NULL))
		batch_flush(rc);

	Assert(b->n < BATCH_ROWS);
	oldcxt = MemoryContextSwitchTo(b->cxt);
	if (b->n == 0)
	{
		HASHCTL		ctl;

		b->kind = kind;
		b->ti = rc->ti;
		b->rel = rc->rel;
		b->before_row = rc->before_row;
		b->cols = bms_copy(cols);
		ctl.keysize = ctl.entrysize = sizeof(uint64);
		ctl.hcxt = b->cxt;
		b->keys = hash_create("undoredo batch keys", 256, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	(void) hash_search(b->keys, &hash, HASH_ENTER, NULL);
	b->from[b->n] = from ? copy_image(from) : NULL;
	b->to[b->n] = to ? copy_image(to) : NULL;
	b->n++;
	MemoryContextSwitchTo(oldcxt);
	return true;
}

static void
replay_change(ReplayContext *rc, Change *change)
{
	RowImage   *from = NULL;
	RowImage   *to = NULL;
	BatchKind	kind;

	if (rc->ti == NULL || rc->ti->rootid != change->relid || !rc->ti->valid)
	{
		rc->ti = undoredo_table_info_by_oid(change->relid, rc->step);
		note_table(rc);
	}
	Assert(rc->ti->rootid == change->relid && rc->rel != NULL);
	switch (change->op)
	{
		case 'i':
			kind = rc->undo ? BATCH_REMOVE : BATCH_INSERT;
			if (rc->undo)
				from = &change->after;
			else
				to = &change->after;
			break;
		case 'd':
			kind = rc->undo ? BATCH_INSERT : BATCH_REMOVE;
			if (rc->undo)
				to = &change->before;
			else
				from = &change->before;
			break;
		default:
			kind = BATCH_UPDATE;
			from = rc->undo ? &change->after : &change->before;
			to = rc->undo ? &change->before : &change->after;
			break;
	}

	/* key bookkeeping for foreign key actions, in replay order */
	if (kind == BATCH_REMOVE)
	{
		key_removed(rc, from);
		check_untracked_actions(rc, from, true);
	}
	else if (kind == BATCH_INSERT)
		key_created(rc, to);
	if (batch_add(rc, kind, from, to))
		return;

	switch (kind)
	{
		case BATCH_REMOVE:
			replay_remove(rc, from);
			break;
		case BATCH_INSERT:
			replay_insert(rc, to);
			break;
		case BATCH_UPDATE:
			replay_update(rc, from, to);
			break;
	}
}

/*
 * Replay one step's changes, undo backwards, redo forwards, streaming them
 * from the history with a scan that user code running meanwhile cannot
 * reach (store.c).  Each change runs in change_cxt, reset after it (SPI
 * calls leave the current context at SPI's procedure context, hence the
 * switch every time).
 */
static int64
replay_step(bool undo, bool overwrite, int64 scope_id, int64 step)
{
	ReplayContext rc;
	UndoRedoChangeScan *scan;
	Change	   *change;
	MemoryContext change_cxt;
	MemoryContext oldcxt;
	HASHCTL		ctl;
	HASH_SEQ_STATUS seq;
	ReplayTable *table;

	/* the step's statements run before its AFTER triggers fire */
	Assert(undoredo_replaying && !undoredo_replay_firing.active);
	rc.undo = undo;
	rc.revert = undoredo_reverting() != NULL;
	rc.overwrite = overwrite;
	rc.scope_id = scope_id;
	rc.step = step;
	rc.nchanges = 0;
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(uint64);
	ctl.hcxt = CurrentMemoryContext;
	rc.removed_keys = hash_create("undoredo removed keys", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(ReplayTable);
	rc.tables = hash_create("undoredo replayed tables", 16, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	rc.rel = NULL;
	rc.before_row = 0;
	rc.untracked = NIL;
	rc.ti = NULL;
	rc.batch = palloc0(sizeof(Batch));
	rc.batch->cxt = AllocSetContextCreate(CurrentMemoryContext, "undoredo batch",
										  ALLOCSET_DEFAULT_SIZES);
	change_cxt = AllocSetContextCreate(CurrentMemoryContext, "undoredo change",
									   ALLOCSET_DEFAULT_SIZES);

	scan = undoredo_store_begin_changes(scope_id, step, undo);
	while ((change = undoredo_store_next_change(scan)) != NULL)
	{
		oldcxt = MemoryContextSwitchTo(change_cxt);
		replay_change(&rc, change);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(change_cxt);
		rc.nchanges++;
	}
	batch_flush(&rc);
	undoredo_store_end_changes(scan);
	hash_seq_init(&seq, rc.tables);
	while ((table = hash_seq_search(&seq)) != NULL)
		relation_close(table->rel, NoLock);
	MemoryContextDelete(change_cxt);
	MemoryContextDelete(rc.batch->cxt);
	hash_destroy(rc.removed_keys);
	return rc.nchanges;
}

/*
 * Replay one step (undo: its inverse) and fire the AFTER triggers its
 * statements queued, on the step's final state; returns how many changes
 * it replayed.  Rows that foreign key actions or triggers change
 * meanwhile have a later command id than the step's statements: the
 * capture trigger refuses them (see undoredo_replay_firing).  Called
 * connected to SPI.
 */
static int64
replay_one(bool undo, bool overwrite, int64 scope_id, int64 step)
{
	EState	   *estate;
	int64		nchanges;

	AfterTriggerBeginQuery();
	nchanges = replay_step(undo, overwrite, scope_id, step);
	undoredo_replay_firing.undo = undo;
	undoredo_replay_firing.overwrite = overwrite;
	undoredo_replay_firing.step = step;
	undoredo_replay_firing.last_cid = GetCurrentCommandId(true);
	undoredo_replay_firing.active = true;
	CommandCounterIncrement();
	estate = CreateExecutorState();
	AfterTriggerEndQuery(estate);
	undoredo_replay_firing.active = false;
	ExecCloseResultRelations(estate);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	return nchanges;
}

/*
 * Replay up to steps steps, one at a time: of anyone, or of the actor when
 * it is not NULL (undo: the newest undoable steps; redo: the most recently
 * undone).  An undone step is numbered above every step to redo, so redo
 * takes the steps back in the reverse order.  Each step runs in an SPI
 * connection of its own, so what it allocates (SQL text, batches, the
 * executor state of its triggers) is freed when it is done: memory does
 * not grow with the number of steps.
 */
static void
replay_steps(bool undo, int64 scope_id, const char *actor, int32 steps)
{
	bool		was_replaying = undoredo_replaying;
	/* user code running meanwhile may SET it: read it once */
	bool		overwrite = undoredo_on_conflict == UNDOREDO_CONFLICT_OVERWRITE;
	int64		bound = PG_INT64_MAX;
	int64		undone = undo ? undoredo_store_last_undone(scope_id) : 0;
	int32		i;

	undoredo_replaying = true;
	PG_TRY();
	{
		for (i = 0; i < steps; i++)
		{
			int64		step;

			undoredo_spi_connect();
			step = undoredo_store_next_step(undo, scope_id, actor, bound, &bound);
			if (step == 0)
			{
				undoredo_spi_finish();
				break;
			}
			(void) replay_one(undo, overwrite, scope_id, step);
			undoredo_store_move_step(undo, scope_id, step, ++undone);
			undoredo_spi_finish();
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		undoredo_replaying = was_replaying;
		undoredo_replay_firing.active = false;
	}
	PG_END_TRY();
}

static Datum
counts_result(FunctionCallInfo fcinfo, int64 scope_id, const char *actor)
{
	int32		counts[2];
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	undoredo_store_counts(scope_id, actor, &counts[0], &counts[1]);
	values[0] = Int32GetDatum(counts[0]);
	values[1] = Int32GetDatum(counts[1]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}

static Datum
replay(FunctionCallInfo fcinfo, bool undo)
{
	char	   *object_type = undoredo_object_type_arg(fcinfo, 0);
	char	   *object_id = undoredo_object_id_arg(fcinfo, 1);
	char	   *actor = undoredo_actor_arg(fcinfo, 3);
	int32		steps;
	ScopeState *ss;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("steps must not be null")));
	steps = PG_GETARG_INT32(2);
	if (steps < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("steps must be at least 1, not %d", steps)));
	if (undoredo_replaying)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 undo ?
				 errmsg("cannot undo while an undo or redo is replaying") :
				 errmsg("cannot redo while an undo or redo is replaying"),
				 errdetail("The function was called from a trigger or function that runs during undoredo_undo or undoredo_redo.")));

	undoredo_citus_check_here(object_type, object_id, UNDOREDO_SCOPE_UNKNOWN);
	ss = undoredo_access_lock_scope(object_type, object_id, UNDOREDO_ACCESS_REPLAY);
	/* the scope is locked to the end of the transaction (scope.c) */
	Assert(undoredo_find_scope_state(ss->scope) == ss);
	undoredo_flush_for_reading(ss);
	replay_steps(undo, undoredo_scope_id(ss), actor, steps);
	undoredo_close_step(ss);
	return counts_result(fcinfo, ss->scope_id, actor);
}

Datum
undoredo_undo(PG_FUNCTION_ARGS)
{
	return replay(fcinfo, true);
}

Datum
undoredo_redo(PG_FUNCTION_ARGS)
{
	return replay(fcinfo, false);
}

/*
 * undoredo_revert: the inverse of one undoable step, applied to the data as
 * it is now and captured as a new step of the scope (scope.c's revert
 * state makes the capture trigger record the replay's rows into it, with
 * the label and the reverted step).  The reverted step stays as it is.
 * Every change of the step must come back as one captured change: a
 * tracked table whose capture trigger no longer fires (untracked since,
 * disabled, session_replication_role = replica) would make a revert step
 * that undoes only part of it, and is refused.
 */
Datum
undoredo_revert(PG_FUNCTION_ARGS)
{
	char	   *object_type = undoredo_object_type_arg(fcinfo, 0);
	char	   *object_id = undoredo_object_id_arg(fcinfo, 1);
	int64		step;
	ScopeState *ss;
	int64		scope_id;
	bool		undoable;
	char	   *label;
	char	   *new_label;
	bool		was_replaying = undoredo_replaying;
	bool		overwrite = undoredo_on_conflict == UNDOREDO_CONFLICT_OVERWRITE;
	int64		replayed = 0;
	int64		captured;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("step must not be null")));
	step = PG_GETARG_INT64(2);
	if (undoredo_replaying)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot revert while an undo or redo is replaying"),
				 errdetail("The function was called from a trigger or function that runs during undoredo_undo, undoredo_redo or undoredo_revert.")));

	undoredo_citus_check_here(object_type, object_id, UNDOREDO_SCOPE_UNKNOWN);
	ss = undoredo_access_lock_scope(object_type, object_id, UNDOREDO_ACCESS_REPLAY);
	Assert(undoredo_find_scope_state(ss->scope) == ss);
	undoredo_flush_for_reading(ss);
	scope_id = undoredo_scope_id(ss);
	if (!undoredo_store_step_info(scope_id, step, &undoable, &label))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("step " INT64_FORMAT " is not in the history of \"%s\"",
						step, ss->scope)));
	if (!undoable)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot revert step " INT64_FORMAT " of \"%s\": it has been undone",
						step, ss->scope),
				 errhint("Redo it first, or leave it undone.")));
	if (undoredo_label != NULL && undoredo_label[0] != '\0')
		new_label = pstrdup(undoredo_label);
	else if (label != NULL)
		new_label = psprintf("Revert: %s", label);
	else
		new_label = psprintf("Revert step " INT64_FORMAT, step);

	/* what the transaction captured before is a step of its own */
	undoredo_close_step(ss);
	undoredo_revert_begin(ss, step, new_label);
	undoredo_replaying = true;
	PG_TRY();
	{
		undoredo_spi_connect();
		replayed = replay_one(true, overwrite, scope_id, step);
		undoredo_spi_finish();
	}
	PG_FINALLY();
	{
		undoredo_replaying = was_replaying;
		undoredo_replay_firing.active = false;
		undoredo_revert_end();
	}
	PG_END_TRY();
	/*
	 * A row moved to another partition is captured as two changes, so
	 * only fewer captured changes than replayed ones tell of a gap.
	 */
	captured = ss->step != 0 ? ss->next_seq - 1 : 0;
	if (!overwrite && captured < replayed)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot revert step " INT64_FORMAT " of \"%s\": " INT64_FORMAT " of its " INT64_FORMAT " changes were not captured",
						step, ss->scope, replayed - captured, replayed),
				 errdetail("A table the step changed is no longer tracked, or its capture trigger did not fire."),
				 errhint("SELECT * FROM undoredo_verify() lists the reasons.")));
	undoredo_close_step(ss);
	return counts_result(fcinfo, scope_id, NULL);
}
