/*-------------------------------------------------------------------------
 *
 * image.c
 *	  Row images.
 *
 * An image is a length, a count and, per column, its attnum, its type oid
 * at capture, a format byte and the value.  The capture trigger appends
 * images straight into the chunk of history it is filling (capture.c).
 *
 *	image	:= int32 length, int16 count, count x column
 *	column	:= int16 attnum, int32 type oid, value
 *	value	:= byte format, int32 length (-1 for 'n'), length bytes
 *
 * Formats of a value:
 *	'r'/'R'	the value as stored (detoasted), for built-in base types with
 *			binary I/O that hold no oid of a user object: a copy, no
 *			conversion, so capture stays cheap.  The byte order is part of
 *			the format ('r' little-, 'R' big-endian), so a history restored
 *			on a server of the other byte order is refused, not misread.
 *	'b'		the type's binary send form: exact and independent of session
 *			settings (DateStyle, TimeZone, extra_float_digits), for types
 *			whose send form holds no oid: enums, domains and ranges over
 *			such types, base types of extensions (citext).
 *	'o'		the text output with only pg_catalog in search_path, so names
 *			come out schema-qualified: for the oid alias types (regclass,
 *			regtype, regproc, ...) and domains over them.  Their values are
 *			oids, which a dump and restore changes; names survive.  Replay
 *			reads them back with the type's input function, under the same
 *			search_path.
 *	'c'		a composite, by attribute name: int16 count, then per live
 *			attribute a byte-counted name, its type oid and its value.
 *			Replay builds the value of the type as it is now: an attribute
 *			added since is null, one dropped since (or dropped and added
 *			again with another type) is ignored, as for columns.
 *	'a'		an array of elements whose send form would hold oids (user
 *			types, composites, alias types): int32 ndims, per dimension
 *			int32 length and int32 lower bound, then every element as a
 *			value.
 *	't'		text output, for a type without binary send/receive.
 *	'n'		null.
 * A value inside 'c' or 'a' is 'b', 'o', 'c', 'a', 't' or 'n' (never raw);
 * a domain over a composite or array is written as its base type and its
 * constraints are checked again on replay.
 *
 * Type oids of user-defined types (oid FirstGenbkiObjectId and above: the
 * oids of built-in types are the same in every cluster) are collected in a
 * TypeSet while a change is imaged; the chunk stores them twice, as oid[]
 * and as regtype[] (which pg_dump writes by name), and replay maps each
 * recorded oid through that dictionary to the type's oid in this database
 * (undoredo_type_map, undoredo_image_read).  Chunks written before 1.1.1
 * have no dictionary: their oids are used as they are, and composites and
 * arrays of user types are in 'b' send form, oids inside; they replay in
 * the database that recorded them.
 *
 * Either way the value is detoasted, so an out-of-line original may be
 * vacuumed away afterwards.  A value stored out of line uncompressed is
 * read from its TOAST table in slices of 1 MB, straight into the image
 * (the bytes are those of the detoasted value), and an update compares
 * such a value with the other by length first, then slice by slice: no
 * detoasted copy of it is made.  A compressed one is detoasted whole.
 *
 * Columns are identified by attnum, which stays put across ADD, DROP and
 * RENAME COLUMN; the type oid lets replay refuse a column whose type
 * changed.  Stored generated columns are never imaged: they are recomputed.
 * pg_dump does not keep dropped columns, so a restored table numbers its
 * columns otherwise.  Each chunk therefore also keeps, per table, the
 * table's oid at capture (reloids), its column names by attnum at capture
 * (relcolumns: a text[] literal, NULL for a dropped column; tableinfo.c
 * builds it once per TableInfo, capture copies it when the table first
 * appears in a chunk, and starts another chunk if an ALTER changed it
 * meanwhile) and the recording database (origin, store.c).  Replay
 * (undoredo_attnum_maps) keeps the recorded attnums when the chunk was
 * recorded in this database on the table that has that oid now -- so a
 * renamed column is still the same column there -- and otherwise maps each
 * recorded column to the column of that name now: one gone (dropped, or
 * renamed since the capture) is left out like a dropped one, and a type
 * mismatch is refused as for columns whose type changed.  Chunks without
 * these (recorded before they were added) use their attnums as they are.
 *
 * An update image holds the primary key and the columns whose stored form
 * changed (bytes compared after detoasting, not '=': 1.50 -> 1.5 and
 * 0 -> -0 are changes).  For a table whose primary key is deferrable it
 * holds the whole row: within a step two rows may share a key for a while,
 * and only the other columns tell them apart.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/toast_compression.h"
#include "access/transam.h"
#include "catalog/pg_type.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "undoredo.h"

#ifdef WORDS_BIGENDIAN
#define FORMAT_RAW 'R'
#else
#define FORMAT_RAW 'r'
#endif

#define USER_TYPE(typid) ((typid) >= FirstGenbkiObjectId)

/* Add a type to a set (no-op if it is there already). */
void
undoredo_typeset_add(TypeSet *set, Oid typid, MemoryContext cxt)
{
	int			i;

	for (i = 0; i < set->ntypes; i++)
		if (set->types[i] == typid)
			return;
	if (set->ntypes == set->maxtypes)
	{
		int			max = Max(8, set->maxtypes * 2);

		if (set->types == NULL)
			set->types = MemoryContextAlloc(cxt, sizeof(Oid) * max);
		else
			set->types = repalloc(set->types, sizeof(Oid) * max);
		set->maxtypes = max;
	}
	set->types[set->ntypes++] = typid;
}

static bool
is_alias_type(Oid typid)
{
	switch (typid)
	{
		case REGPROCOID:
		case REGPROCEDUREOID:
		case REGOPEROID:
		case REGOPERATOROID:
		case REGCLASSOID:
		case REGTYPEOID:
		case REGCOLLATIONOID:
		case REGCONFIGOID:
		case REGDICTIONARYOID:
		case REGNAMESPACEOID:
		case REGROLEOID:
			return true;
		default:
			return false;
	}
}

/* Does the type's send form hold no oid that a restore would change? */
static bool
send_portable(Oid typid)
{
	Oid			elem;

	check_stack_depth();
	typid = getBaseType(typid);
	if (is_alias_type(typid))
		return false;
	switch (get_typtype(typid))
	{
		case TYPTYPE_COMPOSITE:
			return false;
		case TYPTYPE_RANGE:
			return send_portable(get_range_subtype(typid));
		case TYPTYPE_MULTIRANGE:
			return send_portable(get_multirange_range(typid));
		default:
			break;
	}
	elem = get_element_type(typid);
	if (OidIsValid(elem))
		return !USER_TYPE(elem) && send_portable(elem);
	return true;
}

/* The format of a value of the type inside a composite or an array. */
static char
nested_format(Oid typid)
{
	Oid			base = getBaseType(typid);
	Oid			sendfn;
	bool		isvarlena;

	if (get_typtype(base) == TYPTYPE_COMPOSITE)
		return 'c';
	if (send_portable(typid))
	{
		getTypeBinaryOutputInfo(typid, &sendfn, &isvarlena);
		return OidIsValid(sendfn) ? 'b' : 'o';
	}
	if (OidIsValid(get_element_type(base)))
		return 'a';
	return 'o';
}

/*
 * nested_format and the send function of types, cached: capture asks for
 * every attribute of every composite value.  Entries hold no pointers, so
 * forgetting them all (on any change of pg_type) is always safe.
 */
typedef struct TypeFormat
{
	Oid			typid;			/* hash key */
	char		format;
	Oid			sendfn;			/* for 'b' */
} TypeFormat;

static HTAB *type_formats = NULL;
static bool type_formats_stale = false;

static void
forget_type_formats(Datum arg pg_attribute_unused(),
					int cacheid pg_attribute_unused(),
					uint32 hashvalue pg_attribute_unused())
{
	type_formats_stale = true;
}

static char
type_format(Oid typid, Oid *sendfn)
{
	TypeFormat *entry;
	char		format;
	bool		isvarlena;

	if (type_formats == NULL || type_formats_stale)
	{
		HASHCTL		ctl;

		if (type_formats == NULL)
			CacheRegisterSyscacheCallback(TYPEOID, forget_type_formats, (Datum) 0);
		else
			hash_destroy(type_formats);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TypeFormat);
		type_formats = hash_create("undoredo type formats", 64, &ctl,
								   HASH_ELEM | HASH_BLOBS);
		type_formats_stale = false;
	}
	entry = hash_search(type_formats, &typid, HASH_FIND, NULL);
	if (entry != NULL)
	{
		*sendfn = entry->sendfn;
		return entry->format;
	}
	format = nested_format(typid);
	*sendfn = InvalidOid;
	if (format == 'b')
		getTypeBinaryOutputInfo(typid, sendfn, &isvarlena);
	if (!type_formats_stale)
	{
		entry = hash_search(type_formats, &typid, HASH_ENTER, NULL);
		entry->format = format;
		entry->sendfn = *sendfn;
	}
	return format;
}

/*
 * How the values of a column of this type are imaged; the type has binary
 * send and receive all the way down (tableinfo.c checks).
 */
char
undoredo_image_format(Oid typid, int16 typlen)
{
	char		format = nested_format(typid);

	if (format == 'b' && !USER_TYPE(typid) &&
		get_typtype(typid) == TYPTYPE_BASE && typlen != -2)
		return 'r';
	return format;
}

/* Text output with only pg_catalog in search_path: qualified names. */
static char *
output_by_name(Oid typid, Datum value)
{
	Oid			outfn;
	bool		isvarlena;
	int			nestlevel = NewGUCNestLevel();
	char	   *text;

	getTypeOutputInfo(typid, &outfn, &isvarlena);
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	text = OidOutputFunctionCall(outfn, value);
	AtEOXact_GUC(true, nestlevel);
	return text;
}

/*
 * 'o' back to a value, under the same search_path as it was written: a
 * name the output left unqualified is one of pg_catalog.
 */
static Datum
input_by_name(Oid typid, const char *data, int len, int32 typmod)
{
	Oid			infn;
	Oid			ioparam;
	int			nestlevel = NewGUCNestLevel();
	Datum		result;

	getTypeInputInfo(typid, &infn, &ioparam);
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	result = OidInputFunctionCall(infn, pnstrdup(data, len), ioparam, typmod);
	AtEOXact_GUC(true, nestlevel);
	return result;
}

static void encode_value(StringInfo buf, TypeSet *types, Oid typid,
						 Datum value, bool isnull);

/* 'c': the live attributes by name, type oid and value */
static void
encode_composite(StringInfo buf, TypeSet *types, Datum value)
{
	HeapTupleHeader td = DatumGetHeapTupleHeader(value);
	TupleDesc	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(td),
											  HeapTupleHeaderGetTypMod(td));
	HeapTupleData tuple;
	Datum	   *values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	int			count = 0;
	int			i;

	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	heap_deform_tuple(&tuple, desc, values, nulls);
	for (i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			count++;
	pq_sendint16(buf, count);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			len = strlen(NameStr(att->attname));

		if (att->attisdropped)
			continue;
		pq_sendbyte(buf, len);
		pq_sendbytes(buf, NameStr(att->attname), len);
		pq_sendint32(buf, att->atttypid);
		if (USER_TYPE(att->atttypid))
			undoredo_typeset_add(types, att->atttypid, CurrentMemoryContext);
		encode_value(buf, types, att->atttypid, values[i], nulls[i]);
	}
	ReleaseTupleDesc(desc);
	pfree(values);
	pfree(nulls);
}

/* 'a': dimensions, then the elements */
static void
encode_array(StringInfo buf, TypeSet *types, Datum value)
{
	ArrayType  *array = DatumGetArrayTypeP(value);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int			ndim = ARR_NDIM(array);
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	pq_sendint32(buf, ndim);
	for (i = 0; i < ndim; i++)
	{
		pq_sendint32(buf, ARR_DIMS(array)[i]);
		pq_sendint32(buf, ARR_LBOUND(array)[i]);
	}
	get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
	deconstruct_array(array, elemtype, elmlen, elmbyval, elmalign,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		encode_value(buf, types, elemtype, elems[i], nulls[i]);
}

/* A value inside a composite or array (or a column's 'o', 'c', 'a') */
static void
encode_value(StringInfo buf, TypeSet *types, Oid typid, Datum value,
			 bool isnull)
{
	char		format;
	Oid			sendfn;
	int			start;
	uint32		n32;

	check_stack_depth();
	if (isnull)
	{
		pq_sendbyte(buf, 'n');
		pq_sendint32(buf, -1);
		return;
	}
	format = type_format(typid, &sendfn);
	pq_sendbyte(buf, format);
	start = buf->len;
	pq_sendint32(buf, 0);		/* the length, set below */
	switch (format)
	{
		case 'b':
			{
				bytea	   *sent = OidSendFunctionCall(sendfn, value);

				pq_sendbytes(buf, VARDATA(sent), VARSIZE(sent) - VARHDRSZ);
				break;
			}
		case 'o':
			{
				char	   *text = output_by_name(typid, value);

				pq_sendbytes(buf, text, strlen(text));
				break;
			}
		case 'c':
			encode_composite(buf, types, value);
			break;
		case 'a':
			encode_array(buf, types, value);
			break;
	}
	n32 = pg_hton32(buf->len - start - 4);
	memcpy(buf->data + start, &n32, 4);
}

static Datum decode_value(const char *data, int len, char format, Oid typid,
						  int32 typmod, bool *isnull);

/* Read a value's format and bytes at msg's cursor. */
static void
read_value(StringInfo msg, char *format, const char **data, int *len)
{
	*format = pq_getmsgbyte(msg);
	*len = (int32) pq_getmsgint(msg, 4);
	*data = NULL;
	if (*format != 'n')
		*data = pq_getmsgbytes(msg, *len);
}

static void
init_reader(StringInfo msg, const char *data, int len)
{
	msg->data = (char *) data;
	msg->len = len;
	msg->maxlen = len;
	msg->cursor = 0;
}

/* 'c' back to a value of the composite type as it is now */
static Datum
decode_composite(const char *data, int len, Oid typid)
{
	TupleDesc	desc = lookup_rowtype_tupdesc(typid, -1);
	Datum	   *values = palloc0(sizeof(Datum) * Max(desc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	StringInfoData msg;
	HeapTuple	tuple;
	Datum		result;
	int			count;
	int			i;
	int			j;

	memset(nulls, true, sizeof(bool) * Max(desc->natts, 1));
	init_reader(&msg, data, len);
	count = (int16) pq_getmsgint(&msg, 2);
	for (i = 0; i < count; i++)
	{
		int			namelen = pq_getmsgbyte(&msg);
		const char *name = pq_getmsgbytes(&msg, namelen);
		Oid			atttypid = (Oid) pq_getmsgint(&msg, 4);
		char		format;
		const char *vdata;
		int			vlen;

		read_value(&msg, &format, &vdata, &vlen);
		for (j = 0; j < desc->natts; j++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, j);

			if (!att->attisdropped && att->atttypid == atttypid &&
				strlen(NameStr(att->attname)) == (size_t) namelen &&
				memcmp(NameStr(att->attname), name, namelen) == 0)
			{
				values[j] = decode_value(vdata, vlen, format, att->atttypid,
										 att->atttypmod, &nulls[j]);
				break;
			}
		}
	}
	if (msg.cursor != msg.len)
		elog(ERROR, "undoredo: malformed composite value of type %u", typid);
	tuple = heap_form_tuple(desc, values, nulls);
	result = heap_copy_tuple_as_datum(tuple, desc);
	ReleaseTupleDesc(desc);
	return result;
}

/* 'a' back to an array of the type */
static Datum
decode_array(const char *data, int len, Oid typid, int32 typmod)
{
	Oid			elemtype = get_element_type(typid);
	StringInfoData msg;
	int			ndim;
	int			dims[MAXDIM];
	int			lbs[MAXDIM];
	int			n;
	Datum	   *elems;
	bool	   *nulls;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	int			i;

	if (!OidIsValid(elemtype))
		elog(ERROR, "undoredo: recorded array value for type %u, not an array", typid);
	init_reader(&msg, data, len);
	ndim = (int32) pq_getmsgint(&msg, 4);
	if (ndim < 0 || ndim > MAXDIM)
		elog(ERROR, "undoredo: malformed array value of type %u", typid);
	for (i = 0; i < ndim; i++)
	{
		dims[i] = (int32) pq_getmsgint(&msg, 4);
		lbs[i] = (int32) pq_getmsgint(&msg, 4);
	}
	get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
	if (ndim == 0)
		return PointerGetDatum(construct_empty_array(elemtype));
	n = ArrayGetNItems(ndim, dims);
	elems = palloc(sizeof(Datum) * Max(n, 1));
	nulls = palloc(sizeof(bool) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		char		format;
		const char *vdata;
		int			vlen;

		read_value(&msg, &format, &vdata, &vlen);
		elems[i] = decode_value(vdata, vlen, format, elemtype, typmod, &nulls[i]);
	}
	if (msg.cursor != msg.len)
		elog(ERROR, "undoredo: malformed array value of type %u", typid);
	return PointerGetDatum(construct_md_array(elems, nulls, ndim, dims, lbs,
											  elemtype, elmlen, elmbyval,
											  elmalign));
}

/* A value of the type, from any format but 'r' */
static Datum
decode_value(const char *data, int len, char format, Oid typid, int32 typmod,
			 bool *isnull)
{
	StringInfoData buf;
	Oid			base;
	int32		basetypmod = typmod;
	Oid			fn;
	Oid			ioparam;
	Datum		result;

	check_stack_depth();
	*isnull = false;
	switch (format)
	{
		case 'n':
			*isnull = true;
			return (Datum) 0;
		case 'b':
			getTypeBinaryInputInfo(typid, &fn, &ioparam);
			initStringInfo(&buf);
			appendBinaryStringInfo(&buf, data, len);
			return OidReceiveFunctionCall(fn, &buf, ioparam, typmod);
		case 'o':
			return input_by_name(typid, data, len, typmod);
		case 't':
			getTypeInputInfo(typid, &fn, &ioparam);
			return OidInputFunctionCall(fn, pnstrdup(data, len), ioparam, typmod);
		case 'c':
		case 'a':
			base = getBaseTypeAndTypmod(typid, &basetypmod);
			if (format == 'c')
			{
				if (get_typtype(base) != TYPTYPE_COMPOSITE)
					elog(ERROR, "undoredo: recorded composite value for type %u, not a composite", typid);
				result = decode_composite(data, len, base);
			}
			else
				result = decode_array(data, len, base, basetypmod);
			if (base != typid)
				domain_check(result, false, typid, NULL, CurrentMemoryContext);
			return result;
		default:
			elog(ERROR, "undoredo: unknown value format '%c'", format);
	}
	return (Datum) 0;			/* keep compiler quiet */
}

/*
 * Map the type oids inside a 'c' or 'a' value (in place) through the
 * chunk's dictionary.
 */
static Oid map_type(const TypeMap *map, Oid typid);

static void
map_nested(char *data, int len, char format, const TypeMap *map)
{
	StringInfoData msg;
	int			i;

	check_stack_depth();
	init_reader(&msg, data, len);
	if (format == 'c')
	{
		int			n = (int16) pq_getmsgint(&msg, 2);

		for (i = 0; i < n; i++)
		{
			int			namelen = pq_getmsgbyte(&msg);
			uint32		n32;
			char		vformat;
			const char *vdata;
			int			vlen;

			(void) pq_getmsgbytes(&msg, namelen);
			n32 = pg_hton32(map_type(map, (Oid) pq_getmsgint(&msg, 4)));
			memcpy(data + msg.cursor - 4, &n32, 4);
			read_value(&msg, &vformat, &vdata, &vlen);
			if (vformat == 'c' || vformat == 'a')
				map_nested((char *) vdata, vlen, vformat, map);
		}
	}
	else
	{
		int			ndim = (int32) pq_getmsgint(&msg, 4);

		for (i = 0; i < ndim; i++)
			(void) pq_getmsgbytes(&msg, 8);
		while (msg.cursor < msg.len)
		{
			char		vformat;
			const char *vdata;
			int			vlen;

			read_value(&msg, &vformat, &vdata, &vlen);
			if (vformat == 'c' || vformat == 'a')
				map_nested((char *) vdata, vlen, vformat, map);
		}
	}
}

/*
 * Large values are read in slices of this many bytes where they are stored
 * out of line and uncompressed: the whole value is then never detoasted
 * into memory of its own.
 */
#define VALUE_SLICE (1024 * 1024)

/*
 * A varlena value read slice by slice: straight from the TOAST table when
 * it is stored out of line uncompressed, else from its detoasted form (a
 * copy only when it is compressed or stored out of line compressed).
 */
typedef struct ValueReader
{
	struct varlena *attr;		/* the value as given */
	struct varlena *whole;		/* detoasted, or NULL: read by slices */
	int32		len;			/* of the data, header excluded */
	struct varlena *slice;		/* the last slice read, freed by the next */
} ValueReader;

static bool
by_slices(struct varlena *attr)
{
	return VARATT_IS_EXTERNAL_ONDISK(attr) &&
		toast_get_compression_id(attr) == TOAST_INVALID_COMPRESSION_ID;
}

static void
reader_init(ValueReader *r, Datum value)
{
	r->attr = (struct varlena *) DatumGetPointer(value);
	r->len = (int32) (toast_raw_datum_size(value) - VARHDRSZ);
	r->whole = by_slices(r->attr) ? NULL : pg_detoast_datum_packed(r->attr);
	r->slice = NULL;
}

/* len bytes of the value's data from offset; valid until the next call */
static const char *
reader_read(ValueReader *r, int32 offset, int32 len)
{
	if (r->slice != NULL)
	{
		pfree(r->slice);
		r->slice = NULL;
	}
	if (r->whole != NULL)
		return VARDATA_ANY(r->whole) + offset;
	r->slice = detoast_attr_slice(r->attr, offset, len);
	if (VARSIZE_ANY_EXHDR(r->slice) != (Size) len)
		elog(ERROR, "undoredo: read %zu bytes of a stored value, not %d",
			 VARSIZE_ANY_EXHDR(r->slice), len);
	return VARDATA_ANY(r->slice);
}

static void
reader_end(ValueReader *r)
{
	if (r->slice != NULL)
		pfree(r->slice);
	if (r->whole != NULL && r->whole != r->attr)
		pfree(r->whole);
}

/*
 * A value stored out of line uncompressed, appended to buf as it would be
 * detoasted (a 4-byte header, then the data), slice by slice.
 */
static void
append_by_slices(StringInfo buf, Datum value)
{
	ValueReader r;
	union
	{
		uint64		align;		/* as large as a varattrib_4b */
		char		bytes[sizeof(uint64)];
	}			header;
	int32		offset;

	reader_init(&r, value);
	Assert(r.whole == NULL);
	SET_VARSIZE(&header, r.len + VARHDRSZ);
	pq_sendint32(buf, r.len + VARHDRSZ);
	enlargeStringInfo(buf, r.len + VARHDRSZ);
	appendBinaryStringInfo(buf, header.bytes, VARHDRSZ);
	for (offset = 0; offset < r.len; offset += VALUE_SLICE)
	{
		int32		n = Min(VALUE_SLICE, r.len - offset);

		appendBinaryStringInfo(buf, reader_read(&r, offset, n), n);
	}
	reader_end(&r);
}

static void
append_value(StringInfo buf, TypeSet *types, ColumnInfo *col,
			 AttrNumber attnum, Datum value, bool isnull)
{
	pq_sendint16(buf, attnum);
	pq_sendint32(buf, col->typid);
	if (col->usertype)
		undoredo_typeset_add(types, col->typid, CurrentMemoryContext);
	if (isnull)
	{
		pq_sendbyte(buf, 'n');
		pq_sendint32(buf, -1);
	}
	else if (col->format == 'r' && col->typbyval)
	{
		char		bytes[sizeof(Datum)];

		store_att_byval(bytes, value, col->typlen);
		pq_sendbyte(buf, FORMAT_RAW);
		pq_sendint32(buf, col->typlen);
		pq_sendbytes(buf, bytes, col->typlen);
	}
	else if (col->format == 'r' && col->typlen > 0)
	{
		pq_sendbyte(buf, FORMAT_RAW);
		pq_sendint32(buf, col->typlen);
		pq_sendbytes(buf, DatumGetPointer(value), col->typlen);
	}
	else if (col->format == 'r' && by_slices((struct varlena *) DatumGetPointer(value)))
	{
		pq_sendbyte(buf, FORMAT_RAW);
		append_by_slices(buf, value);
	}
	else if (col->format == 'r')
	{
		struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));

		pq_sendbyte(buf, FORMAT_RAW);
		pq_sendint32(buf, VARSIZE_ANY(v));
		pq_sendbytes(buf, (char *) v, VARSIZE_ANY(v));
		if ((Pointer) v != DatumGetPointer(value))
			pfree(v);
	}
	else if (col->format == 'b')
	{
		bytea	   *sent = SendFunctionCall(&col->send_finfo, value);

		pq_sendbyte(buf, 'b');
		pq_sendint32(buf, VARSIZE(sent) - VARHDRSZ);
		pq_sendbytes(buf, VARDATA(sent), VARSIZE(sent) - VARHDRSZ);
		pfree(sent);
	}
	else if (col->format == 't')
	{
		char	   *text = OutputFunctionCall(&col->send_finfo, value);
		int			len = strlen(text);

		pq_sendbyte(buf, 't');
		pq_sendint32(buf, len);
		pq_sendbytes(buf, text, len);
		pfree(text);
	}
	else
		encode_value(buf, types, col->typid, value, false);
}

static inline bool
imaged(ColumnInfo *col)
{
	return !col->dropped && !col->generated;
}

/* Append the image of the included columns: length, count, values. */
static void
append_image(StringInfo buf, TypeSet *types, TableInfo *ti, const Datum *values,
			 const bool *isnull, const bool *include)
{
	int			start = buf->len;
	int			count = 0;
	int			i;
	uint32		n32;
	uint16		n16;

	pq_sendint32(buf, 0);		/* length and count, set below */
	pq_sendint16(buf, 0);
	for (i = 0; i < ti->natts; i++)
	{
		if (!include[i])
			continue;
		append_value(buf, types, &ti->cols[i], i + 1, values[i], isnull[i]);
		count++;
	}
	n32 = pg_hton32(buf->len - start - 4);
	memcpy(buf->data + start, &n32, 4);
	n16 = pg_hton16(count);
	memcpy(buf->data + start + 4, &n16, 2);
}

/* The image of every column of a row (an inserted or deleted row). */
void
undoredo_image_append_full(StringInfo buf, TypeSet *types, TableInfo *ti,
						   HeapTuple tuple)
{
	Datum	   *values = palloc(sizeof(Datum) * ti->natts);
	bool	   *isnull = palloc(sizeof(bool) * ti->natts);
	bool	   *include = palloc(sizeof(bool) * ti->natts);
	int			i;

	heap_deform_tuple(tuple, ti->rootdesc, values, isnull);
	for (i = 0; i < ti->natts; i++)
		include[i] = imaged(&ti->cols[i]);
	append_image(buf, types, ti, values, isnull, include);
	pfree(values);
	pfree(isnull);
	pfree(include);
}

/*
 * Do two varlena values have the same data, one of them stored out of
 * line?  Values of other lengths differ without being read; the others
 * are compared slice by slice, so that neither is detoasted whole unless
 * it is compressed.
 */
static bool
same_data_by_slices(Datum a, Datum b)
{
	ValueReader ra;
	ValueReader rb;
	int32		offset;
	bool		same = true;

	if (toast_raw_datum_size(a) != toast_raw_datum_size(b))
		return false;
	reader_init(&ra, a);
	reader_init(&rb, b);
	for (offset = 0; same && offset < ra.len; offset += VALUE_SLICE)
	{
		int32		n = Min(VALUE_SLICE, ra.len - offset);

		same = memcmp(reader_read(&ra, offset, n),
					  reader_read(&rb, offset, n), n) == 0;
	}
	reader_end(&ra);
	reader_end(&rb);
	return same;
}

/* Do two values of a column have the same stored form? */
static bool
same_stored_form(ColumnInfo *col, Datum a, bool anull, Datum b, bool bnull)
{
	struct varlena *da;
	struct varlena *db;
	bool		same;

	if (anull || bnull)
		return anull && bnull;
	if (col->typlen != -1)
		return datumIsEqual(a, b, col->typbyval, col->typlen);
	if (VARSIZE_ANY(DatumGetPointer(a)) == VARSIZE_ANY(DatumGetPointer(b)) &&
		memcmp(DatumGetPointer(a), DatumGetPointer(b),
			   VARSIZE_ANY(DatumGetPointer(a))) == 0)
		return true;
	if (VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(a)) ||
		VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(b)))
		return same_data_by_slices(a, b);

	da = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(a));
	db = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(b));
	same = VARSIZE_ANY_EXHDR(da) == VARSIZE_ANY_EXHDR(db) &&
		memcmp(VARDATA_ANY(da), VARDATA_ANY(db), VARSIZE_ANY_EXHDR(da)) == 0;
	if ((Pointer) da != DatumGetPointer(a))
		pfree(da);
	if ((Pointer) db != DatumGetPointer(b))
		pfree(db);
	return same;
}

/*
 * The images of an update, before and after: the key and the changed
 * columns.  Appends nothing and returns false when no column changed.
 */
bool
undoredo_image_append_update(StringInfo buf, TypeSet *types, TableInfo *ti,
							 HeapTuple oldtup, HeapTuple newtup)
{
	Datum	   *oldvalues = palloc(sizeof(Datum) * ti->natts);
	bool	   *oldnulls = palloc(sizeof(bool) * ti->natts);
	Datum	   *newvalues = palloc(sizeof(Datum) * ti->natts);
	bool	   *newnulls = palloc(sizeof(bool) * ti->natts);
	bool	   *include = palloc0(sizeof(bool) * ti->natts);
	bool		changed = false;
	int			i;

	heap_deform_tuple(oldtup, ti->rootdesc, oldvalues, oldnulls);
	heap_deform_tuple(newtup, ti->rootdesc, newvalues, newnulls);
	for (i = 0; i < ti->natts; i++)
	{
		if (imaged(&ti->cols[i]) &&
			!same_stored_form(&ti->cols[i], oldvalues[i], oldnulls[i],
							  newvalues[i], newnulls[i]))
		{
			include[i] = true;
			changed = true;
		}
	}
	if (changed)
	{
		for (i = 0; i < ti->nkeys; i++)
			include[ti->keys[i] - 1] = true;
		if (ti->key_deferrable)
			for (i = 0; i < ti->natts; i++)
				include[i] = imaged(&ti->cols[i]);
		append_image(buf, types, ti, oldvalues, oldnulls, include);
		append_image(buf, types, ti, newvalues, newnulls, include);
	}
	pfree(oldvalues);
	pfree(oldnulls);
	pfree(newvalues);
	pfree(newnulls);
	pfree(include);
	return changed;
}

/*
 * The type dictionary of a chunk.  Without one (no user-defined types, or
 * written before 1.1.1), oids map to themselves.
 */
void
undoredo_type_map(const HistoryChunk *chunk, TypeMap *map)
{
	Datum	   *captured;
	Datum	   *current;
	int			ncaptured;
	int			ncurrent;
	int			i;

	map->ntypes = 0;
	map->identity = true;
	map->captured = map->current = NULL;
	if (chunk->typoids == NULL || chunk->types == NULL)
		return;
	deconstruct_array((ArrayType *) chunk->typoids, OIDOID, sizeof(Oid), true,
					  TYPALIGN_INT, &captured, NULL, &ncaptured);
	deconstruct_array((ArrayType *) chunk->types, REGTYPEOID, sizeof(Oid), true,
					  TYPALIGN_INT, &current, NULL, &ncurrent);
	if (ncaptured != ncurrent)
		elog(ERROR, "undoredo: type dictionary of a chunk has %d oids and %d types",
			 ncaptured, ncurrent);
	map->ntypes = ncaptured;
	map->captured = palloc(sizeof(Oid) * Max(ncaptured, 1));
	map->current = palloc(sizeof(Oid) * Max(ncaptured, 1));
	for (i = 0; i < ncaptured; i++)
	{
		map->captured[i] = DatumGetObjectId(captured[i]);
		map->current[i] = DatumGetObjectId(current[i]);
		if (map->captured[i] != map->current[i])
			map->identity = false;
	}
}

/* The oid in this database of a type recorded with this oid */
static Oid
map_type(const TypeMap *map, Oid typid)
{
	int			i;

	if (map->identity || !USER_TYPE(typid))
		return typid;
	for (i = 0; i < map->ntypes; i++)
		if (map->captured[i] == typid)
			return map->current[i];
	elog(ERROR, "undoredo: type %u is missing from the type dictionary of its chunk",
		 typid);
	return InvalidOid;			/* keep compiler quiet */
}

/*
 * Read the image at buf's cursor (as appended by append_image) and move
 * the cursor past it; type oids are mapped to this database's.  The values
 * point into buf, or into a copy where oids inside had to be mapped.
 */
void
undoredo_image_read(StringInfo msg, const TypeMap *map, RowImage *image)
{
	StringInfoData buf;
	int			len = (int32) pq_getmsgint(msg, 4);
	int			i;

	buf.data = (char *) pq_getmsgbytes(msg, len);
	buf.len = len;
	buf.maxlen = len;
	buf.cursor = 0;

	image->nvalues = pq_getmsgint(&buf, 2);
	image->values = palloc(sizeof(ImageValue) * Max(image->nvalues, 1));
	for (i = 0; i < image->nvalues; i++)
	{
		ImageValue *v = &image->values[i];

		v->attnum = (int16) pq_getmsgint(&buf, 2);
		v->typid = map_type(map, (Oid) pq_getmsgint(&buf, 4));
		read_value(&buf, &v->format, &v->data, &v->len);
		if (!map->identity && (v->format == 'c' || v->format == 'a'))
		{
			char	   *copy = palloc(Max(v->len, 1));

			memcpy(copy, v->data, v->len);
			map_nested(copy, v->len, v->format, map);
			v->data = copy;
		}
	}
}

/*
 * The attnum maps of a chunk's tables (see the header comment).  A table
 * keeps its recorded attnums when the chunk was recorded in this database
 * on the table that has that oid now; otherwise its columns are looked up
 * by the names they had at capture.  Without names (chunks recorded before
 * they were kept) the attnums are used as they are.
 */
void
undoredo_attnum_maps(const HistoryChunk *chunk, int nrelids, const Oid *relids,
					 AttnumMap *maps)
{
	Datum	   *reloids = NULL;
	Datum	   *columns = NULL;
	bool	   *nulls = NULL;
	int			n = 0;
	bool		here;
	int			i;

	for (i = 0; i < nrelids; i++)
	{
		maps[i].natts = 0;
		maps[i].current = NULL;
	}
	if (chunk->reloids == NULL || chunk->relcolumns == NULL ||
		chunk->origin == NULL)
		return;
	deconstruct_array((ArrayType *) chunk->reloids, OIDOID, sizeof(Oid), true,
					  TYPALIGN_INT, &reloids, NULL, &n);
	if (n != nrelids)
		elog(ERROR, "undoredo: chunk has %d tables and %d table oids", nrelids, n);
	deconstruct_array((ArrayType *) chunk->relcolumns, TEXTOID, -1, false,
					  TYPALIGN_INT, &columns, &nulls, &n);
	if (n != nrelids)
		elog(ERROR, "undoredo: chunk has %d tables and %d lists of columns",
			 nrelids, n);
	here = strcmp(text_to_cstring(chunk->origin), undoredo_origin()) == 0;
	for (i = 0; i < nrelids; i++)
	{
		ArrayType  *names;
		Datum	   *elems;
		bool	   *enulls;
		int			j;

		if (here && DatumGetObjectId(reloids[i]) == relids[i])
			continue;
		if (nulls[i])
			elog(ERROR, "undoredo: chunk has no list of columns for its table %d", i);
		names = DatumGetArrayTypeP(OidInputFunctionCall(F_ARRAY_IN,
														TextDatumGetCString(columns[i]),
														TEXTOID, -1));
		deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &enulls, &maps[i].natts);
		maps[i].current = palloc0(sizeof(AttrNumber) * (maps[i].natts + 1));
		for (j = 0; j < maps[i].natts; j++)
		{
			AttrNumber	attnum;

			if (enulls[j])
				continue;		/* dropped at capture */
			/* InvalidAttrNumber for a column gone or dropped since */
			attnum = get_attnum(relids[i], TextDatumGetCString(elems[j]));
			if (attnum > 0)
				maps[i].current[j + 1] = attnum;
		}
	}
}

/*
 * Renumber an image's columns through a map: values of columns that the
 * table no longer has are left out, as replay leaves out those of dropped
 * columns; the rest stay in attnum order.
 */
void
undoredo_image_remap(RowImage *image, const AttnumMap *map)
{
	int			n = 0;
	int			i;

	if (map->current == NULL)
		return;
	for (i = 0; i < image->nvalues; i++)
	{
		ImageValue	v = image->values[i];
		int			j;

		if (v.attnum < 1 || v.attnum > map->natts ||
			map->current[v.attnum] == InvalidAttrNumber)
			continue;
		v.attnum = map->current[v.attnum];
		/* insertion: pg_dump keeps the order, so this is mostly a copy */
		for (j = n; j > 0 && image->values[j - 1].attnum > v.attnum; j--)
			image->values[j] = image->values[j - 1];
		image->values[j] = v;
		n++;
	}
	image->nvalues = n;
}

ImageValue *
undoredo_image_find(RowImage *image, AttrNumber attnum)
{
	int			i;

	for (i = 0; i < image->nvalues; i++)
		if (image->values[i].attnum == attnum)
			return &image->values[i];
	return NULL;
}

/* error context: which recorded value was being read */
typedef struct ReadingValue
{
	TableInfo  *ti;
	ColumnInfo *col;
} ReadingValue;

static void
reading_value_context(void *arg)
{
	ReadingValue *r = (ReadingValue *) arg;

	errcontext("reading the recorded value of column \"%s\" of table \"%s\"",
			   NameStr(r->col->name), r->ti->relname);
}

/* A value in format 'r' of this server's byte order as a datum */
static Datum
raw_datum(const ImageValue *v, int16 typlen, bool typbyval)
{
	char	   *copy;

	if (typlen > 0 && v->len != typlen)
		elog(ERROR, "undoredo: stored value of type %u has length %d, not %d",
			 v->typid, v->len, typlen);
	copy = palloc(Max(v->len, (int) sizeof(Datum)));
	memcpy(copy, v->data, v->len);
	if (typbyval)
		return fetch_att(copy, true, typlen);
	return PointerGetDatum(copy);
}

/* The value as a datum of the column's type; the value is not null. */
Datum
undoredo_image_datum(TableInfo *ti, const ImageValue *v)
{
	ColumnInfo *col = &ti->cols[v->attnum - 1];
	ErrorContextCallback callback;
	ReadingValue reading;
	StringInfoData buf;
	bool		isnull;
	Datum		result;

	if (v->format == 'r' || v->format == 'R')
	{
		if (v->format != FORMAT_RAW)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot replay a value of column \"%s\" of table \"%s\" recorded on a server of another byte order",
							NameStr(col->name), ti->relname)));
		return raw_datum(v, col->typlen, col->typbyval);
	}

	reading.ti = ti;
	reading.col = col;
	callback.callback = reading_value_context;
	callback.arg = &reading;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	if (v->format == 'b')
	{
		initStringInfo(&buf);
		appendBinaryStringInfo(&buf, v->data, v->len);
		result = ReceiveFunctionCall(&col->recv_finfo, &buf, col->ioparam,
									 col->typmod);
	}
	else
		result = decode_value(v->data, v->len, v->format, col->typid,
							  col->typmod, &isnull);
	error_context_stack = callback.previous;
	return result;
}

/*
 * A recorded value (not null) as a datum of the type it was recorded as,
 * which its column may no longer have (undoredo_changes shows it as it
 * was): no type modifier is applied, and a domain's value is read as its
 * base type, whose datum it is, so that a constraint added to the domain
 * since does not refuse it.  The type must still exist.
 */
Datum
undoredo_image_value(const ImageValue *v)
{
	int16		typlen;
	bool		typbyval;
	bool		isnull;

	if (v->format == 'r' || v->format == 'R')
	{
		if (v->format != FORMAT_RAW)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot read a value recorded on a server of another byte order")));
		get_typlenbyval(v->typid, &typlen, &typbyval);
		return raw_datum(v, typlen, typbyval);
	}
	return decode_value(v->data, v->len, v->format, getBaseType(v->typid), -1,
						&isnull);
}

/*
 * The value in the column type's binary send form (or text output): what
 * replay compares the current value with.
 */
bytea *
undoredo_image_sent(TableInfo *ti, const ImageValue *v)
{
	ColumnInfo *col = &ti->cols[v->attnum - 1];

	if (v->format == 'b' || v->format == 't')
		return (bytea *) cstring_to_text_with_len(v->data, v->len);
	return SendFunctionCall(&col->send_finfo, undoredo_image_datum(ti, v));
}

static void
read_change(StringInfo msg, int nrelids, const Oid *relids,
			const AttnumMap *attnums, const TypeMap *types, Change *change)
{
	int			relation = (int32) pq_getmsgint(msg, 4);

	if (relation < 0 || relation >= nrelids)
		elog(ERROR, "undoredo: change refers to table %d of a chunk of %d",
			 relation, nrelids);
	change->relid = relids[relation];
	change->op = pq_getmsgbyte(msg);
	if (change->op == 'u' || change->op == 'd')
	{
		undoredo_image_read(msg, types, &change->before);
		undoredo_image_remap(&change->before, &attnums[relation]);
	}
	if (change->op == 'u' || change->op == 'i')
	{
		undoredo_image_read(msg, types, &change->after);
		undoredo_image_remap(&change->after, &attnums[relation]);
	}
	if (change->op != 'u' && change->op != 'd' && change->op != 'i')
		elog(ERROR, "undoredo: unknown change kind '%c'", change->op);
}

/*
 * The changes of a chunk, decoded, in capture order; returns how many.
 */
int32
undoredo_read_chunk(const HistoryChunk *chunk, int64 step, Change **changes)
{
	int32		nchanges = chunk->nchanges;
	Datum	   *reldatums;
	int			nrelids;
	Oid		   *relids;
	AttnumMap  *attnums;
	TypeMap		types;
	StringInfoData msg;
	Change	   *list = palloc(sizeof(Change) * Max(nchanges, 1));
	int			i;

	msg.data = VARDATA_ANY(chunk->changes);
	msg.len = VARSIZE_ANY_EXHDR(chunk->changes);
	msg.maxlen = msg.len;
	msg.cursor = 0;
	deconstruct_array(chunk->relids, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT,
					  &reldatums, NULL, &nrelids);
	relids = palloc(sizeof(Oid) * Max(nrelids, 1));
	for (i = 0; i < nrelids; i++)
		relids[i] = DatumGetObjectId(reldatums[i]);
	attnums = palloc(sizeof(AttnumMap) * Max(nrelids, 1));
	undoredo_attnum_maps(chunk, nrelids, relids, attnums);
	undoredo_type_map(chunk, &types);
	for (i = 0; i < nchanges; i++)
		read_change(&msg, nrelids, relids, attnums, &types, &list[i]);
	if (msg.cursor != msg.len)
		elog(ERROR, "undoredo: malformed chunk of step " INT64_FORMAT, step);
	*changes = list;
	return nchanges;
}
