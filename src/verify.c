/*-------------------------------------------------------------------------
 *
 * verify.c
 *	  undoredo_verify: why a write could change tracked data uncaptured.
 *
 * The tracked tables are read from the catalog, as capture itself knows
 * them: a table is tracked when it has a row trigger calling the
 * extension's undoredo_capture function (found by that function, not by
 * the trigger's name: a copy of the table's triggers may be named
 * otherwise) that is not a clone of a parent's; every partition of a
 * tracked partitioned table, at any depth, belongs to it.  Each of those
 * members needs:
 *	- a capture trigger (the row trigger, on a partition the clone) that
 *	  fires after every insert, update and delete.  PostgreSQL copies a
 *	  partitioned table's state to the clones of partitions made later, so
 *	  a disabled trigger on a partitioned table is reported too;
 *	- a guard (the statement trigger calling the same function), except on
 *	  a foreign table, which cannot have TRUNCATE triggers: without it
 *	  TRUNCATE of the table is not refused under a scope.
 * A trigger fires by its pg_trigger.tgenabled and the session's
 * session_replication_role: 'O' in origin and local sessions, 'R' only in
 * replica sessions, 'A' always, 'D' never.  So 'D' and 'R' lose the
 * writes of ordinary sessions and are reported whatever this session's
 * role; 'O' loses the writes of a replica session, reported as one row
 * without a table when the calling session is one.
 *
 * A foreign key with an action (CASCADE, SET NULL, SET DEFAULT) held by a
 * table outside the tracked ones and referencing one of them changes its
 * holder's rows when tracked rows are deleted or re-keyed, and the undo of
 * that write does not put them back.  PostgreSQL clones a foreign key to
 * the partitions on both sides; the constraint reported is the topmost one
 * that still references a tracked table from an untracked one, so that a
 * key declared once is reported once, on the table it was declared on.
 *
 * Everything is read from the catalogs with the catalog snapshot, no
 * table is locked and nothing is written; the rows are sorted by the
 * table's name as regclass shows it (byte order; the row without a table
 * last), then by the problem's text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "undoredo.h"

PG_FUNCTION_INFO_V1(undoredo_verify);

/* the triggers calling undoredo_capture that one table has */
typedef struct VerifyRel
{
	Oid			relid;			/* hash key */
	bool		member;			/* tracked, or a partition of a tracked table */
	List	   *captures;		/* VerifyTrigger *: row triggers */
	List	   *guards;			/* VerifyTrigger *: statement triggers */
} VerifyRel;

typedef struct VerifyTrigger
{
	char		enabled;		/* pg_trigger.tgenabled */
	bool		complete;		/* fires for every event it must, always */
	bool		clone;			/* tgparentid is set */
} VerifyTrigger;

typedef struct Problem
{
	char	   *name;			/* tbl as regclass shows it, NULL for none */
	Oid			relid;
	char	   *text;
} Problem;

typedef struct Problems
{
	int			n;
	int			max;
	Problem    *rows;
} Problems;

static void
add_problem(Problems *p, Oid relid, const char *text)
{
	if (p->n == p->max)
	{
		p->max = p->max ? p->max * 2 : 16;
		p->rows = p->rows ? repalloc(p->rows, p->max * sizeof(Problem)) :
			palloc(p->max * sizeof(Problem));
	}
	p->rows[p->n].relid = relid;
	p->rows[p->n].name = OidIsValid(relid) ?
		DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid))) :
		NULL;
	p->rows[p->n].text = pstrdup(text);
	p->n++;
}

static int
problem_cmp(const void *a, const void *b)
{
	const Problem *pa = (const Problem *) a;
	const Problem *pb = (const Problem *) b;
	int			c;

	if (pa->name == NULL || pb->name == NULL)
		c = (pa->name == NULL) - (pb->name == NULL);
	else
		c = strcmp(pa->name, pb->name);
	return c != 0 ? c : strcmp(pa->text, pb->text);
}

/* the oid of the extension's trigger function undoredo_capture() */
static Oid
capture_function(void)
{
	Oid			fnoid;

	fnoid = GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
							CStringGetDatum("undoredo_capture"),
							PointerGetDatum(buildoidvector(NULL, 0)),
							ObjectIdGetDatum(undoredo_extension()->schema));
	if (!OidIsValid(fnoid))
		elog(ERROR, "undoredo: function undoredo_capture() not found");
	return fnoid;
}

static VerifyRel *
rel_entry(HTAB *rels, Oid relid)
{
	bool		found;
	VerifyRel  *vr = hash_search(rels, &relid, HASH_ENTER, &found);

	if (!found)
	{
		vr->member = false;
		vr->captures = NIL;
		vr->guards = NIL;
	}
	return vr;
}

/*
 * Every trigger calling undoredo_capture, by table.  pg_trigger has no
 * index on the function: the catalog is read whole.
 */
static HTAB *
read_triggers(Oid fnoid)
{
	HASHCTL		ctl;
	HTAB	   *rels;
	Relation	tgrel;
	SysScanDesc scan;
	HeapTuple	tuple;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(VerifyRel);
	ctl.hcxt = CurrentMemoryContext;
	rels = hash_create("undoredo_verify tables", 64, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	tgrel = table_open(TriggerRelationId, AccessShareLock);
	scan = systable_beginscan(tgrel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_trigger form = (Form_pg_trigger) GETSTRUCT(tuple);
		VerifyRel  *vr;
		VerifyTrigger *vt;
		int16		type = form->tgtype;
		bool		unconditional;

		if (form->tgfoid != fnoid)
			continue;
		unconditional = form->tgattr.dim1 == 0 &&
			heap_attisnull(tuple, Anum_pg_trigger_tgqual, RelationGetDescr(tgrel));
		vr = rel_entry(rels, form->tgrelid);
		vt = palloc(sizeof(VerifyTrigger));
		vt->enabled = form->tgenabled;
		vt->clone = OidIsValid(form->tgparentid);
		if (TRIGGER_FOR_ROW(type))
		{
			vt->complete = unconditional && TRIGGER_FOR_AFTER(type) &&
				TRIGGER_FOR_INSERT(type) && TRIGGER_FOR_UPDATE(type) &&
				TRIGGER_FOR_DELETE(type);
			vr->captures = lappend(vr->captures, vt);
		}
		else
		{
			vt->complete = unconditional && TRIGGER_FOR_BEFORE(type) &&
				TRIGGER_FOR_INSERT(type) && TRIGGER_FOR_UPDATE(type) &&
				TRIGGER_FOR_DELETE(type) && TRIGGER_FOR_TRUNCATE(type);
			vr->guards = lappend(vr->guards, vt);
		}
	}
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	return rels;
}

/*
 * Mark the tracked tables and their partitions as members: a table with a
 * capture trigger of its own (not a clone) is tracked.  Returns them all.
 */
static List *
mark_members(HTAB *rels)
{
	HASH_SEQ_STATUS seq;
	VerifyRel  *vr;
	List	   *roots = NIL;
	List	   *members = NIL;
	ListCell   *lc;

	hash_seq_init(&seq, rels);
	while ((vr = hash_seq_search(&seq)) != NULL)
	{
		ListCell   *tc;

		foreach(tc, vr->captures)
		{
			if (!((VerifyTrigger *) lfirst(tc))->clone)
			{
				roots = lappend_oid(roots, vr->relid);
				break;
			}
		}
	}
	foreach(lc, roots)
	{
		Oid			root = lfirst_oid(lc);
		List	   *tree;
		ListCell   *mc;

		/* a plain table's inheritance children are not part of it */
		if (get_rel_relkind(root) == RELKIND_PARTITIONED_TABLE)
			tree = find_all_inheritors(root, NoLock, NULL);
		else
			tree = list_make1_oid(root);
		foreach(mc, tree)
		{
			Oid			member = lfirst_oid(mc);
			char		relkind = get_rel_relkind(member);

			/* gone meanwhile, nothing locks it */
			if (relkind == '\0')
				continue;
			vr = rel_entry(rels, member);
			if (!vr->member)
			{
				vr->member = true;
				members = lappend_oid(members, member);
			}
		}
	}
	return members;
}

/*
 * The problems of one set of triggers of a member: how they fail to fire.
 * Returns whether one of them fires in origin sessions only ('O').
 */
static bool
check_triggers(Problems *p, Oid relid, List *triggers, bool capture)
{
	ListCell   *lc;
	bool		origin_only = false;

	if (triggers == NIL)
	{
		add_problem(p, relid, capture ? "capture trigger is missing" :
					"guard trigger is missing");
		return false;
	}
	foreach(lc, triggers)
	{
		VerifyTrigger *vt = lfirst(lc);

		if (vt->enabled == TRIGGER_DISABLED)
			add_problem(p, relid, capture ? "capture trigger is disabled" :
						"guard trigger is disabled");
		else if (vt->enabled == TRIGGER_FIRES_ON_REPLICA)
			add_problem(p, relid, capture ?
						"capture trigger fires only when session_replication_role is replica" :
						"guard trigger fires only when session_replication_role is replica");
		else if (vt->enabled == TRIGGER_FIRES_ON_ORIGIN)
			origin_only = true;
		if (!vt->complete)
			add_problem(p, relid, capture ?
						"capture trigger does not fire after every insert, update and delete" :
						"guard trigger does not fire before every insert, update, delete and truncate");
	}
	return origin_only;
}

/* " ON DELETE CASCADE" and the like, or "" for NO ACTION and RESTRICT */
static const char *
fk_action(const char *event, char action)
{
	switch (action)
	{
		case FKCONSTR_ACTION_CASCADE:
			return psprintf(" ON %s CASCADE", event);
		case FKCONSTR_ACTION_SETNULL:
			return psprintf(" ON %s SET NULL", event);
		case FKCONSTR_ACTION_SETDEFAULT:
			return psprintf(" ON %s SET DEFAULT", event);
		default:
			return "";
	}
}

static bool
is_member(HTAB *rels, Oid relid)
{
	VerifyRel  *vr = hash_search(rels, &relid, HASH_FIND, NULL);

	return vr != NULL && vr->member;
}

static bool
changes_rows(char action)
{
	return action == FKCONSTR_ACTION_CASCADE ||
		action == FKCONSTR_ACTION_SETNULL ||
		action == FKCONSTR_ACTION_SETDEFAULT;
}

/*
 * Is this a foreign key with an action, held by an untracked table, that
 * references a tracked one?
 */
static bool
fk_acts_on_tracked(HTAB *rels, Form_pg_constraint con)
{
	return con->contype == CONSTRAINT_FOREIGN &&
		(changes_rows(con->confdeltype) || changes_rows(con->confupdtype)) &&
		is_member(rels, con->confrelid) && !is_member(rels, con->conrelid);
}

/*
 * Foreign keys with actions from untracked tables to tracked ones.
 * pg_constraint has no index on the referenced table: read whole.
 */
static void
check_foreign_keys(Problems *p, HTAB *rels)
{
	Relation	conrel;
	SysScanDesc scan;
	HeapTuple	tuple;

	conrel = table_open(ConstraintRelationId, AccessShareLock);
	scan = systable_beginscan(conrel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);
		Oid			referenced = con->confrelid;
		bool		qualifies = true;
		HeapTuple	top;
		Form_pg_constraint topcon;

		if (!fk_acts_on_tracked(rels, con))
			continue;

		/*
		 * Up to the key as declared, for its name and table; the tracked
		 * table named is the topmost one the clones still reference.
		 */
		top = heap_copytuple(tuple);
		topcon = (Form_pg_constraint) GETSTRUCT(top);
		while (OidIsValid(topcon->conparentid))
		{
			HeapTuple	parent = SearchSysCacheCopy1(CONSTROID,
													 ObjectIdGetDatum(topcon->conparentid));

			if (!HeapTupleIsValid(parent))
				break;
			heap_freetuple(top);
			top = parent;
			topcon = (Form_pg_constraint) GETSTRUCT(top);
			qualifies = qualifies && fk_acts_on_tracked(rels, topcon);
			if (qualifies)
				referenced = topcon->confrelid;
		}
		add_problem(p, topcon->conrelid,
					psprintf("foreign key \"%s\" references tracked table %s with%s%s, which changes this table's rows without capture",
							 NameStr(topcon->conname),
							 DatumGetCString(DirectFunctionCall1(regclassout,
																 ObjectIdGetDatum(referenced))),
							 fk_action("DELETE", topcon->confdeltype),
							 fk_action("UPDATE", topcon->confupdtype)));
		heap_freetuple(top);
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);
}

Datum
undoredo_verify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Problems	problems = {0, 0, NULL};
	HTAB	   *rels;
	List	   *members;
	ListCell   *lc;
	bool		origin_only = false;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	rels = read_triggers(capture_function());
	members = mark_members(rels);
	foreach(lc, members)
	{
		Oid			relid = lfirst_oid(lc);
		VerifyRel  *vr = hash_search(rels, &relid, HASH_FIND, NULL);

		if (check_triggers(&problems, relid, vr->captures, true))
			origin_only = true;
		if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE &&
			check_triggers(&problems, relid, vr->guards, false))
			origin_only = true;
	}
	check_foreign_keys(&problems, rels);
	if (origin_only && SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		add_problem(&problems, InvalidOid,
					"session_replication_role is replica in this session, so capture and guard triggers not enabled ALWAYS do not fire");

	if (problems.n > 1)
		qsort(problems.rows, problems.n, sizeof(Problem), problem_cmp);
	for (i = 0; i < problems.n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		/* the clones of one foreign key, two alike triggers: one row */
		if (i > 0 && problem_cmp(&problems.rows[i - 1], &problems.rows[i]) == 0)
			continue;

		values[0] = ObjectIdGetDatum(problems.rows[i].relid);
		nulls[0] = !OidIsValid(problems.rows[i].relid);
		values[1] = CStringGetTextDatum(problems.rows[i].text);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
