/*-------------------------------------------------------------------------
 *
 * changes.c
 *	  undoredo_changes: what a step changed, for people.
 *
 * One row per row change the step recorded, in capture order, read chunk
 * by chunk with the same ordered scan replay uses (store.c) and decoded as
 * replay decodes it (image.c); each chunk is decoded in a memory context
 * reset after it, and the rows go to the tuplestore of a materialized SRF,
 * which spills to disk beyond work_mem: a step of any size is listed in
 * bounded memory.
 *
 * Values are shown as to_jsonb shows them, decoded as the type they were
 * recorded as: a column whose type changed since shows the recorded value
 * in its old type; a column dropped since (or whose recorded type is gone)
 * is left out.  Columns appear under their current names.  For an update,
 * old and new hold the columns whose recorded values differ (an image of a
 * table with a deferrable key holds the whole row; its unchanged columns
 * are left out too).
 *
 * It never shows a value the caller could not read if the row were in the
 * table now.  Privileges are those of the current user:
 *	- a table dropped since, or one on which the caller may select no
 *	  column, lists its rows with key, old and new NULL;
 *	- a column the caller may not select is left out of key, old and new;
 *	- when row-level security applies to the caller for the table
 *	  (check_enable_rls: FORCE for the owner included), the table's SELECT
 *	  and ALL policies that apply to the caller are evaluated, as the
 *	  caller, on the row image(s) the listing would show (for an update the
 *	  one before and the one after: both must pass): permissive ones ORed,
 *	  restrictive ones ANDed, none permissive hides every row.  A policy
 *	  reading a column the image lacks (an update records only the key and
 *	  the changed columns) gets it from the row's current version, found by
 *	  the key the change left and read as the table's owner; if the row is
 *	  not in the table any more, or the image's value cannot be put in the
 *	  row (its column changed type), the row is hidden.  A hidden row is
 *	  listed with key, old and new NULL.
 * Each table's privileges and policy check are worked out once per call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rowsecurity.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "undoredo.h"

PG_FUNCTION_INFO_V1(undoredo_changes);

/* What the listing may show of a table, worked out once per call. */
typedef struct ChangesTable
{
	Oid			relid;			/* hash key: the tracked table */
	bool		shown;			/* it exists, the caller may select some of it */
	Oid			listed;			/* the table tbl names: a Citus shard's
								 * distributed table, which the coordinator
								 * knows by name */
	TableInfo  *ti;
	int			natts;
	bool	   *readable;		/* [natts + 1]: the caller may select it */
	Oid			rowtype;
	/* row-level security, when it applies to the caller */
	bool		rls;
	bool		hides_all;		/* no permissive policy applies */
	char	   *check_sql;		/* $1 row: do the policies let it be seen? */
	char	   *fetch_sql;		/* $1.. key: the row now, as the owner */
	Oid		   *key_types;
	Bitmapset  *policy_cols;	/* attnums the policies read */
	bool		policy_row;		/* ... or the whole row */
} ChangesTable;

/* to_jsonb for one type: its FmgrInfo knows the argument's type */
typedef struct ToJsonb
{
	Oid			typid;			/* hash key */
	FmgrInfo	finfo;
} ToJsonb;

typedef struct ChangesCall
{
	MemoryContext cxt;			/* lives for the call */
	HTAB	   *tables;			/* of ChangesTable */
	HTAB	   *to_jsonb;		/* of ToJsonb */
} ChangesCall;

/* An image decoded by current attnum (1 .. natts) */
typedef struct Decoded
{
	bool	   *present;		/* the image holds a value for it */
	Datum	   *values;			/* of the recorded type */
	bool	   *nulls;
	Oid		   *typids;			/* the recorded type */
	const ImageValue **raw;		/* the recorded value */
} Decoded;

/* Does one of the policy's roles give the current user the policy? */
static bool
policy_applies(ArrayType *roles)
{
	Oid		   *oids = (Oid *) ARR_DATA_PTR(roles);
	int			n = ARR_DIMS(roles)[0];
	int			i;

	for (i = 0; i < n; i++)
		if (oids[i] == ACL_ID_PUBLIC || has_privs_of_role(GetUserId(), oids[i]))
			return true;
	return false;
}

/*
 * The SQL that evaluates the SELECT policies applying to the caller on a
 * row given as $1 (of the table's row type), under the table's own name so
 * that the policies' column references find the row's columns; and which
 * columns they read.
 */
static void
prepare_policies(ChangesTable *ct, Relation rel)
{
	TableInfo  *ti = ct->ti;
	const char *relname = RelationGetRelationName(rel);
	List	   *dpcontext = deparse_context_for(relname, ct->relid);
	StringInfoData permissive;
	StringInfoData restrictive;
	StringInfoData sql;
	ListCell   *lc;
	int			i;

	initStringInfo(&permissive);
	initStringInfo(&restrictive);
	foreach(lc, rel->rd_rsdesc != NULL ? rel->rd_rsdesc->policies : NIL)
	{
		RowSecurityPolicy *p = (RowSecurityPolicy *) lfirst(lc);
		ListCell   *vc;
		List	   *vars;
		char	   *qual;

		if ((p->polcmd != ACL_SELECT_CHR && p->polcmd != '*') ||
			p->qual == NULL || !policy_applies(p->roles))
			continue;
		qual = deparse_expression((Node *) p->qual, dpcontext, false, false);
		if (p->permissive)
			appendStringInfo(&permissive, "%s(%s)",
							 permissive.len > 0 ? " OR " : "", qual);
		else
			appendStringInfo(&restrictive, " AND (%s)", qual);
		vars = pull_vars_of_level((Node *) p->qual, 0);
		foreach(vc, vars)
		{
			Var		   *var = (Var *) lfirst(vc);

			if (!IsA(var, Var) || var->varattno <= 0)
				ct->policy_row = true;
			else
				ct->policy_cols = bms_add_member(ct->policy_cols,
												 var->varattno);
		}
	}
	if (permissive.len == 0)
	{
		ct->hides_all = true;
		return;
	}
	ct->check_sql = psprintf("SELECT COALESCE((%s)%s, false) FROM (SELECT ($1::%s).*) AS %s",
							 permissive.data, restrictive.data, ti->qname,
							 quote_identifier(relname));

	if (ti->nkeys == 0)
		return;					/* no key to find the row now by */
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT r FROM %s AS r WHERE ", ti->target);
	ct->key_types = palloc(sizeof(Oid) * Max(ti->nkeys, 1));
	for (i = 0; i < ti->nkeys; i++)
	{
		ColumnInfo *col = &ti->cols[ti->keys[i] - 1];

		appendStringInfo(&sql, "%sr.%s %s $%d", i > 0 ? " AND " : "",
						 quote_identifier(NameStr(col->name)), col->eqop, i + 1);
		ct->key_types[i] = col->typid;
	}
	ct->fetch_sql = sql.data;
}

static ChangesTable *
changes_table(ChangesCall *call, Oid relid)
{
	ChangesTable *ct;
	bool		found;
	Relation	rel;
	Oid			userid = GetUserId();
	MemoryContext oldcxt;

	ct = hash_search(call->tables, &relid, HASH_ENTER, &found);
	if (found)
	{
		if (ct->shown && !ct->ti->valid)
		{
			rel = relation_open(relid, AccessShareLock);
			ct->ti = undoredo_table_info(rel, relid);
			relation_close(rel, NoLock);
		}
		return ct;
	}
	oldcxt = MemoryContextSwitchTo(call->cxt);
	memset((char *) ct + sizeof(Oid), 0, sizeof(ChangesTable) - sizeof(Oid));
	/* a lock until the end of the transaction, as a SELECT would take */
	rel = try_relation_open(relid, AccessShareLock);
	if (rel != NULL)
	{
		int			i;

		ct->ti = undoredo_table_info(rel, relid);
		if (ct->ti->citus_key != 0)
			ct->listed = undoredo_placement_logical_table(relid);
		ct->natts = ct->ti->natts;
		ct->rowtype = RelationGetForm(rel)->reltype;
		ct->readable = palloc0(sizeof(bool) * (ct->natts + 1));
		if (pg_class_aclcheck(relid, userid, ACL_SELECT) == ACLCHECK_OK)
		{
			for (i = 1; i <= ct->natts; i++)
				ct->readable[i] = true;
			ct->shown = true;
		}
		else
			for (i = 1; i <= ct->natts; i++)
			{
				if (ct->ti->cols[i - 1].dropped ||
					pg_attribute_aclcheck(relid, i, userid, ACL_SELECT) != ACLCHECK_OK)
					continue;
				ct->readable[i] = true;
				ct->shown = true;
			}
		if (ct->shown &&
			check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		{
			ct->rls = true;
			prepare_policies(ct, rel);
		}
		relation_close(rel, NoLock);
	}
	MemoryContextSwitchTo(oldcxt);
	return ct;
}

/* An image's values by current attnum; dropped columns and gone types out */
static void
decode(ChangesTable *ct, RowImage *image, Decoded *d)
{
	int			n = ct->natts + 1;
	int			i;

	d->present = palloc0(sizeof(bool) * n);
	d->values = palloc0(sizeof(Datum) * n);
	d->nulls = palloc0(sizeof(bool) * n);
	d->typids = palloc0(sizeof(Oid) * n);
	d->raw = palloc0(sizeof(ImageValue *) * n);
	if (image == NULL)
		return;
	for (i = 0; i < image->nvalues; i++)
	{
		const ImageValue *v = &image->values[i];
		AttrNumber	a = v->attnum;

		if (a < 1 || a > ct->natts || ct->ti->cols[a - 1].dropped ||
			!SearchSysCacheExists1(TYPEOID, ObjectIdGetDatum(v->typid)))
			continue;
		d->present[a] = true;
		d->typids[a] = v->typid;
		d->raw[a] = v;
		d->nulls[a] = v->format == 'n';
		if (!d->nulls[a])
			d->values[a] = undoredo_image_value(v);
	}
}

static bool
is_key(TableInfo *ti, AttrNumber attnum)
{
	int			i;

	for (i = 0; i < ti->nkeys; i++)
		if (ti->keys[i] == attnum)
			return true;
	return false;
}

/* A value as to_jsonb makes it, ready to be pushed */
static void
image_value_json(ChangesCall *call, Oid typid, Datum value, JsonbValue *jv)
{
	ToJsonb    *tj;
	bool		found;
	Jsonb	   *jb;

	tj = hash_search(call->to_jsonb, &typid, HASH_ENTER, &found);
	if (!found)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(call->cxt);
		FuncExpr   *expr;

		expr = makeFuncExpr(F_TO_JSONB, JSONBOID,
							list_make1(makeNullConst(typid, -1, InvalidOid)),
							InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		fmgr_info_cxt(F_TO_JSONB, &tj->finfo, call->cxt);
		fmgr_info_set_expr((Node *) expr, &tj->finfo);
		MemoryContextSwitchTo(oldcxt);
	}
	jb = DatumGetJsonbP(FunctionCall1(&tj->finfo, value));
	if (JB_ROOT_IS_SCALAR(jb))
		JsonbExtractScalar(&jb->root, jv);
	else
	{
		jv->type = jbvBinary;
		jv->val.binary.data = &jb->root;
		jv->val.binary.len = VARSIZE(jb) - VARHDRSZ;
	}
}

/*
 * The readable columns of an image as a JSON object: all of them, only
 * the key's, or (other given) only those whose value differs from other's.
 */
/*
 * Building a jsonb value: PostgreSQL 19 keeps the state in a JsonbInState
 * and leaves the finished value there; older majors return it from each
 * pushJsonbValue call.
 */
#if PG_VERSION_NUM >= 190000
typedef JsonbInState JsonbBuilder;
#else
typedef struct JsonbBuilder
{
	JsonbParseState *parseState;
	JsonbValue *result;
} JsonbBuilder;
#endif

static void
builder_push(JsonbBuilder *b, JsonbIteratorToken seq, JsonbValue *value)
{
#if PG_VERSION_NUM >= 190000
	pushJsonbValue(b, seq, value);
#else
	b->result = pushJsonbValue(&b->parseState, seq, value);
#endif
}

static Datum
image_object(ChangesCall *call, ChangesTable *ct, Decoded *d, bool key_only,
			Decoded *other)
{
	JsonbBuilder state;
	int			a;

	memset(&state, 0, sizeof(state));
	builder_push(&state, WJB_BEGIN_OBJECT, NULL);
	for (a = 1; a <= ct->natts; a++)
	{
		JsonbValue	k;
		JsonbValue	v;
		const char *name = NameStr(ct->ti->cols[a - 1].name);

		if (!d->present[a] || !ct->readable[a] ||
			(key_only && !is_key(ct->ti, a)))
			continue;
		if (other != NULL && other->present[a] &&
			other->raw[a]->format == d->raw[a]->format &&
			other->raw[a]->len == d->raw[a]->len &&
			(d->nulls[a] ||
			 memcmp(other->raw[a]->data, d->raw[a]->data, d->raw[a]->len) == 0))
			continue;
		k.type = jbvString;
		k.val.string.val = (char *) name;
		k.val.string.len = strlen(name);
		builder_push(&state, WJB_KEY, &k);
		if (d->nulls[a])
			v.type = jbvNull;
		else
			image_value_json(call, d->typids[a], d->values[a], &v);
		builder_push(&state, WJB_VALUE, &v);
	}
	builder_push(&state, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(state.result));
}

/* Does the image lack (in the column's current type) a column the policies read? */
static bool
needs_current_row(ChangesTable *ct, Decoded *d)
{
	int			a;

	for (a = 1; a <= ct->natts; a++)
	{
		if (ct->ti->cols[a - 1].dropped ||
			(!ct->policy_row && !bms_is_member(a, ct->policy_cols)))
			continue;
		if (!d->present[a] || d->typids[a] != ct->ti->cols[a - 1].typid)
			return true;
	}
	return false;
}

/*
 * The row now, by the key the change left, read as the table's owner
 * (row-level security off for it, as for foreign key checks); NULL when it
 * is gone, or the key cannot be looked up.
 */
static HeapTupleHeader
current_row(ChangesTable *ct, Decoded *key)
{
	MemoryContext cxt = CurrentMemoryContext;
	TableInfo  *ti = ct->ti;
	Datum	   *values = palloc(sizeof(Datum) * Max(ti->nkeys, 1));
	char	   *nulls = palloc(sizeof(char) * Max(ti->nkeys, 1));
	Oid			saved_userid;
	int			saved_sec_context;
	SPIPlanPtr	plan;
	HeapTupleHeader row = NULL;
	int			i;

	if (ct->fetch_sql == NULL)
		return NULL;
	for (i = 0; i < ti->nkeys; i++)
	{
		AttrNumber	a = ti->keys[i];

		if (!key->present[a] || key->nulls[a] ||
			key->typids[a] != ct->key_types[i])
			return NULL;
		values[i] = key->values[a];
		nulls[i] = ' ';
	}
	GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
	SetUserIdAndSecContext(ti->owner,
						   saved_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION | SECURITY_NOFORCE_RLS);
	PG_TRY();
	{
		plan = undoredo_plan(ct->relid, ct->fetch_sql, ti->nkeys, ct->key_types);
		if (undoredo_execute_plan(plan, values, nulls, InvalidSnapshot, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "undoredo: reading a row of table \"%s\" failed", ti->relname);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(saved_userid, saved_sec_context);
	}
	PG_END_TRY();
	/* SPI leaves the current context at its own, which lives for the call */
	MemoryContextSwitchTo(cxt);
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  1, &isnull);

		if (!isnull)
			row = DatumGetHeapTupleHeaderCopy(d);
	}
	SPI_freetuptable(SPI_tuptable);
	return row;
}

/*
 * May the caller see this image of a row, by the table's policies?  key:
 * the image whose key finds the row now, when the policies need more.
 */
static bool
policies_pass(ChangesTable *ct, Decoded *d, Decoded *key)
{
	MemoryContext cxt = CurrentMemoryContext;
	TupleDesc	desc = lookup_rowtype_tupdesc_copy(ct->rowtype, -1);
	Datum	   *values = palloc0(sizeof(Datum) * Max(desc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	SPIPlanPtr	plan;
	Datum		arg;
	bool		isnull;
	bool		pass = false;
	int			a;

	if (ct->hides_all)
		return false;
	memset(nulls, true, sizeof(bool) * Max(desc->natts, 1));
	if (needs_current_row(ct, d))
	{
		HeapTupleHeader row = current_row(ct, key);

		if (row == NULL)
			return false;
		for (a = 1; a <= desc->natts; a++)
			if (!TupleDescAttr(desc, a - 1)->attisdropped)
				values[a - 1] = GetAttributeByNum(row, a, &nulls[a - 1]);
	}
	for (a = 1; a <= desc->natts && a <= ct->natts; a++)
	{
		if (!d->present[a] || TupleDescAttr(desc, a - 1)->attisdropped)
			continue;
		if (d->typids[a] != TupleDescAttr(desc, a - 1)->atttypid)
		{
			/* a value of another type cannot be in the row */
			if (ct->policy_row || bms_is_member(a, ct->policy_cols))
				return false;
			continue;
		}
		values[a - 1] = d->values[a];
		nulls[a - 1] = d->nulls[a];
	}
	arg = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	plan = undoredo_plan(ct->relid, ct->check_sql, 1, &ct->rowtype);
	if (undoredo_execute_plan(plan, &arg, " ", InvalidSnapshot, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "undoredo: checking the policies of table \"%s\" failed",
			 ct->ti->relname);
	MemoryContextSwitchTo(cxt);
	if (SPI_processed > 0)
	{
		Datum		r = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  1, &isnull);

		pass = !isnull && DatumGetBool(r);
	}
	SPI_freetuptable(SPI_tuptable);
	return pass;
}

/* One row of the listing */
static void
list_change(ChangesCall *call, ReturnSetInfo *rsinfo, int32 seq, Change *change)
{
	ChangesTable *ct = changes_table(call, change->relid);
	Datum		values[6];
	bool		nulls[6] = {false, false, false, true, true, true};
	Decoded		before;
	Decoded		after;

	values[0] = Int32GetDatum(seq);
	values[1] = ObjectIdGetDatum(OidIsValid(ct->listed) ? ct->listed : change->relid);
	values[2] = CStringGetTextDatum(change->op == 'i' ? "insert" :
									change->op == 'u' ? "update" : "delete");
	if (ct->shown)
	{
		bool		visible;

		decode(ct, change->op != 'i' ? &change->before : NULL, &before);
		decode(ct, change->op != 'd' ? &change->after : NULL, &after);
		visible = true;
		if (ct->rls && change->op != 'i')
			visible = policies_pass(ct, &before, change->op == 'u' ? &after : &before);
		if (visible && ct->rls && change->op != 'd')
			visible = policies_pass(ct, &after, &after);
		if (visible)
		{
			values[3] = image_object(call, ct, change->op == 'd' ? &before : &after,
									true, NULL);
			nulls[3] = false;
			if (change->op != 'i')
			{
				values[4] = image_object(call, ct, &before, false,
										change->op == 'u' ? &after : NULL);
				nulls[4] = false;
			}
			if (change->op != 'd')
			{
				values[5] = image_object(call, ct, &after, false,
										change->op == 'u' ? &before : NULL);
				nulls[5] = false;
			}
		}
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum
undoredo_changes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *object_type = undoredo_object_type_arg(fcinfo, 0);
	char	   *object_id = undoredo_object_id_arg(fcinfo, 1);
	int64		step;
	int64		scope_id;
	ScopeState *ss;
	bool		undoable;
	char	   *label;
	ChangesCall call;
	HASHCTL		ctl;
	MemoryContext change_cxt;
	MemoryContext oldcxt;
	UndoRedoChangeScan *scan;
	Change	   *change;
	int32		seq = 0;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("step must not be null")));
	step = PG_GETARG_INT64(2);

	InitMaterializedSRF(fcinfo, 0);
	undoredo_access_check(object_type, object_id, UNDOREDO_ACCESS_READ);
	/* this transaction's own step is listed too */
	ss = undoredo_find_scope_state(psprintf("%s:%s", object_type, object_id));
	if (ss != NULL && undoredo_scope_locked(ss) && ss->pending != NIL)
		undoredo_flush_for_reading(ss);
	scope_id = undoredo_scope_for_reading(object_type, object_id);
	undoredo_citus_check_here(object_type, object_id, scope_id);
	if (scope_id == 0 ||
		!undoredo_store_step_info(scope_id, step, &undoable, &label))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("step " INT64_FORMAT " is not in the history of \"%s:%s\"",
						step, object_type, object_id)));

	call.cxt = AllocSetContextCreate(CurrentMemoryContext, "undoredo changes",
									 ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(ChangesTable);
	ctl.hcxt = call.cxt;
	call.tables = hash_create("undoredo changes tables", 16, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.entrysize = sizeof(ToJsonb);
	call.to_jsonb = hash_create("undoredo changes types", 16, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	change_cxt = AllocSetContextCreate(CurrentMemoryContext,
									   "undoredo changes change",
									   ALLOCSET_DEFAULT_SIZES);

	undoredo_spi_connect();
	oldcxt = MemoryContextSwitchTo(call.cxt);
	scan = undoredo_store_begin_changes(scope_id, step, false);
	while ((change = undoredo_store_next_change(scan)) != NULL)
	{
		MemoryContextSwitchTo(change_cxt);
		list_change(&call, rsinfo, ++seq, change);
		/* SPI calls leave the current context at SPI's */
		MemoryContextSwitchTo(call.cxt);
		MemoryContextReset(change_cxt);
	}
	undoredo_store_end_changes(scan);
	MemoryContextSwitchTo(oldcxt);
	undoredo_spi_finish();

	/* a step committed meanwhile may have brought another table */
	undoredo_access_check(object_type, object_id, UNDOREDO_ACCESS_READ);
	MemoryContextDelete(change_cxt);
	MemoryContextDelete(call.cxt);
	return (Datum) 0;
}
