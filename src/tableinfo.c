/*-------------------------------------------------------------------------
 *
 * tableinfo.c
 *	  What capture and replay need to know about a tracked table, cached per
 *	  relation and rebuilt when the relation changes.
 *
 * Row images are always in the layout of the tracked table itself (for a
 * partition, its partitioned root), so that a row that moved between
 * partitions, or a partition with another column order, replays through
 * the root.  For each column the entry keeps its type's binary send and
 * receive functions (text output and input for a type without them) and,
 * for the primary key columns, the equality operator of the key's index
 * opclass, written with its schema so that search_path cannot redirect it.
 *
 * Entries live in CacheMemoryContext and are marked invalid by a relcache
 * callback on the relation or its root, like the per-table plans of
 * temporal_tables' versioning.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/transam.h"
#include "catalog/pg_am.h"
#include "catalog/pg_constraint.h"
#include "access/htup_details.h"
#include "nodes/bitmapset.h"
#include "utils/array.h"
#include "nodes/parsenodes.h"
#include "catalog/pg_index.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "miscadmin.h"

#include "undoredo.h"

static HTAB *table_cache = NULL;

/* numbers the builds of entries (TableInfo.layout) */
static uint32 table_info_builds = 0;

static void
invalidate_table_info(Datum arg pg_attribute_unused(), Oid relid)
{
	HASH_SEQ_STATUS status;
	TableInfo  *ti;

	hash_seq_init(&status, table_cache);
	while ((ti = (TableInfo *) hash_seq_search(&status)) != NULL)
	{
		if (relid == InvalidOid || ti->relid == relid || ti->rootid == relid)
			ti->valid = false;
	}
}

static char *
qualified_function(Oid fnoid)
{
	return quote_qualified_identifier(get_namespace_name(get_func_namespace(fnoid)),
									  get_func_name(fnoid));
}

/* OPERATOR(nsp.=) of the opfamily of a primary key column */
static char *
key_equality_operator(Oid opfamily, Oid opcintype)
{
	Oid			opno;
	HeapTuple	tuple;
	Form_pg_operator opform;
	char	   *result;

	opno = get_opfamily_member(opfamily, opcintype, opcintype,
							   BTEqualStrategyNumber);
	if (!OidIsValid(opno))
		elog(ERROR, "no equality operator in opfamily %u for type %u",
			 opfamily, opcintype);
	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for operator %u", opno);
	opform = (Form_pg_operator) GETSTRUCT(tuple);
	result = psprintf("OPERATOR(%s.%s)",
					  quote_identifier(get_namespace_name(opform->oprnamespace)),
					  NameStr(opform->oprname));
	ReleaseSysCache(tuple);
	return result;
}

/*
 * Does the type have binary send and receive all the way down?  An array
 * or composite of a type without them (aclitem[]) has array_send or
 * record_send, which then fail at run time.
 */
static bool
binary_io(Oid typid)
{
	HeapTuple	tuple;
	Form_pg_type form;
	bool		result;

	check_stack_depth();
	tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for type %u", typid);
	form = (Form_pg_type) GETSTRUCT(tuple);
	result = OidIsValid(form->typsend) && OidIsValid(form->typreceive);
	if (result && OidIsValid(form->typelem) && IsTrueArrayType(form))
		result = binary_io(form->typelem);
	else if (result && form->typtype == TYPTYPE_DOMAIN)
		result = binary_io(form->typbasetype);
	else if (result && form->typtype == TYPTYPE_RANGE)
		result = binary_io(get_range_subtype(typid));
	else if (result && form->typtype == TYPTYPE_MULTIRANGE)
		result = binary_io(get_multirange_range(typid));
	else if (result && form->typtype == TYPTYPE_COMPOSITE)
	{
		TupleDesc	desc = lookup_rowtype_tupdesc(typid, -1);
		int			i;

		for (i = 0; result && i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (!att->attisdropped)
				result = binary_io(att->atttypid);
		}
		ReleaseTupleDesc(desc);
	}
	ReleaseSysCache(tuple);
	return result;
}

/*
 * Is the table referenced by a foreign key with an ON DELETE or ON UPDATE
 * action (CASCADE, SET NULL, SET DEFAULT)?  Replay must then not delete
 * and re-create one key within a step (replay.c).
 */
static bool
referenced_with_actions(Oid relid)
{
	Relation	conrel = table_open(ConstraintRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(conrel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tuple;
	bool		found = false;

	while (!found && HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);

		found = con->contype == CONSTRAINT_FOREIGN && con->confrelid == relid &&
			(con->confdeltype == FKCONSTR_ACTION_CASCADE ||
			 con->confdeltype == FKCONSTR_ACTION_SETNULL ||
			 con->confdeltype == FKCONSTR_ACTION_SETDEFAULT ||
			 con->confupdtype == FKCONSTR_ACTION_CASCADE ||
			 con->confupdtype == FKCONSTR_ACTION_SETNULL ||
			 con->confupdtype == FKCONSTR_ACTION_SETDEFAULT);
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);
	return found;
}

/*
 * Columns of immediate unique and exclusion indexes: a set-based update
 * that changes one of them could collide halfway (replay.c).
 */
static void
unique_columns(TableInfo *ti, Relation root)
{
	List	   *indexes = RelationGetIndexList(root);
	ListCell   *lc;

	ti->unique_cols = NULL;
	ti->unique_expr = false;
	foreach(lc, indexes)
	{
		Relation	irel = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index index = irel->rd_index;

		if ((index->indisunique || index->indisexclusion) && index->indimmediate)
		{
			int			i;

			for (i = 0; i < index->indnatts; i++)
			{
				if (index->indkey.values[i] == 0)
					ti->unique_expr = true;
				else
					ti->unique_cols = bms_add_member(ti->unique_cols,
													 index->indkey.values[i]);
			}
			if (!heap_attisnull(irel->rd_indextuple, Anum_pg_index_indpred, NULL))
				ti->unique_expr = true; /* partial: as unknown columns */
		}
		index_close(irel, AccessShareLock);
	}
	list_free(indexes);
}

/*
 * Is '=' on the column's type true exactly when the stored forms are equal?
 * Then replay may compare with it; otherwise (numeric 1.5 = 1.50, float
 * 0 = -0, a nondeterministic collation, ...) it compares send forms.
 */
static bool
exact_equality(Form_pg_attribute att)
{
	switch (att->atttypid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case BOOLOID:
		case OIDOID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case UUIDOID:
		case BYTEAOID:
			return true;
		case TEXTOID:
		case VARCHAROID:
			return OidIsValid(att->attcollation) &&
				get_collation_isdeterministic(att->attcollation);
		default:
			return false;
	}
}

/*
 * The primary key index of a relation, deferrable or not (the relcache's
 * rd_pkindex only knows immediate ones), or InvalidOid.
 */
Oid
undoredo_primary_key(Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			result = InvalidOid;

	foreach(lc, indexes)
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID,
											ObjectIdGetDatum(lfirst_oid(lc)));

		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for index %u", lfirst_oid(lc));
		if (((Form_pg_index) GETSTRUCT(tuple))->indisprimary)
			result = lfirst_oid(lc);
		ReleaseSysCache(tuple);
		if (OidIsValid(result))
			break;
	}
	list_free(indexes);
	return result;
}

/*
 * The names of the columns by attnum, NULL for a dropped one, as a text[]
 * literal: what each chunk of history keeps of the tables its images name,
 * so that a table restored by pg_dump, which renumbers the columns, is
 * read by name (image.c).  Built once per entry, copied per chunk.
 */
static char *
column_names(TupleDesc desc)
{
	Datum	   *names = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	int			dims[1];
	int			lbs[1] = {1};
	ArrayType  *array;
	char	   *result;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		nulls[i] = att->attisdropped;
		names[i] = nulls[i] ? (Datum) 0 :
			CStringGetTextDatum(NameStr(att->attname));
	}
	dims[0] = desc->natts;
	array = construct_md_array(names, nulls, 1, dims, lbs, TEXTOID, -1, false,
							   TYPALIGN_INT);
	result = OidOutputFunctionCall(F_ARRAY_OUT, PointerGetDatum(array));
	for (i = 0; i < desc->natts; i++)
		if (!nulls[i])
			pfree(DatumGetPointer(names[i]));
	pfree(names);
	pfree(nulls);
	pfree(array);
	return result;
}

static void
build_table_info(TableInfo *ti, Relation rel, Oid rootid)
{
	Relation	root;
	TupleDesc	desc;
	Oid			pkoid;
	Relation	pkrel;
	MemoryContext oldcxt;
	int			i;

	if (ti->mcxt != NULL)
		MemoryContextDelete(ti->mcxt);
	ti->mcxt = AllocSetContextCreate(CacheMemoryContext, "undoredo table info",
									 ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(ti->mcxt);

	root = (rootid == RelationGetRelid(rel)) ? rel :
		relation_open(rootid, AccessShareLock);
	desc = RelationGetDescr(root);

	ti->rootid = rootid;
	ti->relname = pstrdup(RelationGetRelationName(root));
	ti->owner = root->rd_rel->relowner;
	ti->qname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(root)),
										   ti->relname);
	ti->target = root->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ? ti->qname :
		psprintf("ONLY %s", ti->qname);
	ti->rootdesc = CreateTupleDescCopy(desc);
	ti->natts = desc->natts;
	ti->cols = palloc0(sizeof(ColumnInfo) * desc->natts);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		ColumnInfo *col = &ti->cols[i];
		HeapTuple	typtuple;
		Form_pg_type typform;

		col->name = att->attname;
		col->typid = att->atttypid;
		col->typmod = att->atttypmod;
		col->dropped = att->attisdropped;
		col->generated = att->attgenerated != '\0';
		col->identity_always = att->attidentity == ATTRIBUTE_IDENTITY_ALWAYS;
		col->typbyval = att->attbyval;
		col->typlen = att->attlen;
		if (col->dropped)
			continue;
		col->exact_eq = exact_equality(att);

		typtuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(att->atttypid));
		if (!HeapTupleIsValid(typtuple))
			elog(ERROR, "cache lookup failed for type %u", att->atttypid);
		typform = (Form_pg_type) GETSTRUCT(typtuple);
		col->ioparam = getTypeIOParam(typtuple);
		col->outfn = typform->typoutput;
		col->infn = typform->typinput;
		col->usertype = att->atttypid >= FirstGenbkiObjectId;
		col->format = 't';
		if (binary_io(att->atttypid))
		{
			col->sendfn = typform->typsend;
			col->recvfn = typform->typreceive;
			col->format = undoredo_image_format(att->atttypid, att->attlen);
			col->sendsql = qualified_function(col->sendfn);
			fmgr_info_cxt(col->sendfn, &col->send_finfo, ti->mcxt);
			fmgr_info_cxt(col->recvfn, &col->recv_finfo, ti->mcxt);
		}
		else
		{
			col->sendsql = qualified_function(col->outfn);
			fmgr_info_cxt(col->outfn, &col->send_finfo, ti->mcxt);
			fmgr_info_cxt(col->infn, &col->recv_finfo, ti->mcxt);
		}
		ReleaseSysCache(typtuple);
	}

	pkoid = undoredo_primary_key(root);
	if (!OidIsValid(pkoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has no primary key", ti->relname),
				 errdetail("undoredo identifies the rows of a tracked table by their primary key.")));
	pkrel = index_open(pkoid, AccessShareLock);
	ti->nkeys = pkrel->rd_index->indnkeyatts;
	ti->keys = palloc(sizeof(AttrNumber) * ti->nkeys);
	ti->key_deferrable = !pkrel->rd_index->indimmediate;
	ti->fk_actions = referenced_with_actions(rootid);
	unique_columns(ti, root);
	for (i = 0; i < ti->nkeys; i++)
	{
		AttrNumber	attnum = pkrel->rd_index->indkey.values[i];
		ColumnInfo *col = &ti->cols[attnum - 1];

		ti->keys[i] = attnum;
		col->eqop = key_equality_operator(pkrel->rd_opfamily[i],
										  pkrel->rd_opcintype[i]);
	}
	index_close(pkrel, AccessShareLock);

	ti->relcolumns = column_names(desc);
	ti->layout = ++table_info_builds;

	ti->map = NULL;
	if (root != rel)
	{
		ti->map = convert_tuples_by_name(RelationGetDescr(rel), ti->rootdesc);
		relation_close(root, AccessShareLock);
	}

	MemoryContextSwitchTo(oldcxt);
	/* which object's rows a Citus shard holds (outside ti->mcxt: SPI) */
	ti->citus_key = undoredo_citus_shard_key(rel);
	ti->valid = true;
}

/* The valid cached info of a relation, or NULL. */
TableInfo *
undoredo_cached_table_info(Oid relid)
{
	TableInfo  *ti;

	if (table_cache == NULL)
		return NULL;
	ti = hash_search(table_cache, &relid, HASH_FIND, NULL);
	return (ti != NULL && ti->valid) ? ti : NULL;
}

/* Info for a relation whose rows are imaged in rootid's layout. */
TableInfo *
undoredo_table_info(Relation rel, Oid rootid)
{
	Oid			relid = RelationGetRelid(rel);
	TableInfo  *ti;
	bool		found;

	if (table_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TableInfo);
		table_cache = hash_create("undoredo tables", 32, &ctl,
								  HASH_ELEM | HASH_BLOBS);
		undoredo_on_relcache_change(invalidate_table_info);
	}

	ti = hash_search(table_cache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		ti->mcxt = NULL;
		ti->valid = false;
	}
	if (!ti->valid || ti->rootid != rootid)
	{
		ti->valid = false;
		build_table_info(ti, rel, rootid);
	}
	return ti;
}

/*
 * Info for the tracked table a step refers to, for replay; a clear error
 * when the table is gone.
 */
TableInfo *
undoredo_table_info_by_oid(Oid relid, int64 step)
{
	Relation	rel;
	TableInfo  *ti;

	rel = try_relation_open(relid, RowExclusiveLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("step " INT64_FORMAT " changed a table that no longer exists (OID %u)",
						step, relid),
				 errdetail("The table was dropped after the step was recorded; a table re-created under the same name is another table."),
				 errhint("Use undoredo_clear to forget this history.")));
	ti = undoredo_table_info(rel, relid);
	relation_close(rel, NoLock);
	return ti;
}
