/*-------------------------------------------------------------------------
 *
 * image.c
 *	  Row images.
 *
 * An image is a length, a count and, per column, its attnum, its type oid
 * at capture, a format byte and the value.  The capture trigger appends
 * images straight into the chunk of history it is filling (capture.c).
 * Formats:
 *	'r'/'R'	the value as stored (detoasted), for built-in base types with
 *			binary I/O: a copy, no conversion, so capture stays cheap.  The
 *			byte order is part of the format ('r' little-, 'R' big-endian),
 *			so a history restored on a server of the other byte order is
 *			refused rather than misread.
 *	'b'		the type's binary send form: exact and independent of session
 *			settings (DateStyle, TimeZone, extra_float_digits), for every
 *			other type with binary I/O (enums, composites, domains, arrays
 *			of those), whose stored form holds oids that a dump and restore
 *			would change.
 *	't'		text output, for a type without binary send/receive.
 *	'n'		null.
 * Either way the value is detoasted, so an out-of-line original may be
 * vacuumed away afterwards.
 *
 * Columns are identified by attnum, which stays put across ADD and DROP
 * COLUMN; the type oid lets replay refuse a column whose type changed.
 * Stored generated columns are never imaged: they are recomputed.
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

#include "access/htup_details.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/datum.h"

#include "undoredo.h"

#ifdef WORDS_BIGENDIAN
#define FORMAT_RAW 'R'
#else
#define FORMAT_RAW 'r'
#endif

static void
append_value(StringInfo buf, ColumnInfo *col, AttrNumber attnum,
			 Datum value, bool isnull)
{
	pq_sendint16(buf, attnum);
	pq_sendint32(buf, col->typid);
	if (isnull)
	{
		pq_sendbyte(buf, 'n');
		pq_sendint32(buf, -1);
	}
	else if (col->raw && col->typbyval)
	{
		char		bytes[sizeof(Datum)];

		store_att_byval(bytes, value, col->typlen);
		pq_sendbyte(buf, FORMAT_RAW);
		pq_sendint32(buf, col->typlen);
		pq_sendbytes(buf, bytes, col->typlen);
	}
	else if (col->raw && col->typlen > 0)
	{
		pq_sendbyte(buf, FORMAT_RAW);
		pq_sendint32(buf, col->typlen);
		pq_sendbytes(buf, DatumGetPointer(value), col->typlen);
	}
	else if (col->raw)
	{
		struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));

		pq_sendbyte(buf, FORMAT_RAW);
		pq_sendint32(buf, VARSIZE_ANY(v));
		pq_sendbytes(buf, (char *) v, VARSIZE_ANY(v));
		if ((Pointer) v != DatumGetPointer(value))
			pfree(v);
	}
	else if (OidIsValid(col->sendfn))
	{
		bytea	   *sent = SendFunctionCall(&col->send_finfo, value);

		pq_sendbyte(buf, 'b');
		pq_sendint32(buf, VARSIZE(sent) - VARHDRSZ);
		pq_sendbytes(buf, VARDATA(sent), VARSIZE(sent) - VARHDRSZ);
		pfree(sent);
	}
	else
	{
		char	   *text = OutputFunctionCall(&col->send_finfo, value);
		int			len = strlen(text);

		pq_sendbyte(buf, 't');
		pq_sendint32(buf, len);
		pq_sendbytes(buf, text, len);
		pfree(text);
	}
}

static inline bool
imaged(ColumnInfo *col)
{
	return !col->dropped && !col->generated;
}

/* Append the image of the included columns: length, count, values. */
static void
append_image(StringInfo buf, TableInfo *ti, const Datum *values,
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
		append_value(buf, &ti->cols[i], i + 1, values[i], isnull[i]);
		count++;
	}
	n32 = pg_hton32(buf->len - start - 4);
	memcpy(buf->data + start, &n32, 4);
	n16 = pg_hton16(count);
	memcpy(buf->data + start + 4, &n16, 2);
}

/* The image of every column of a row (an inserted or deleted row). */
void
undoredo_image_append_full(StringInfo buf, TableInfo *ti, HeapTuple tuple)
{
	Datum	   *values = palloc(sizeof(Datum) * ti->natts);
	bool	   *isnull = palloc(sizeof(bool) * ti->natts);
	bool	   *include = palloc(sizeof(bool) * ti->natts);
	int			i;

	heap_deform_tuple(tuple, ti->rootdesc, values, isnull);
	for (i = 0; i < ti->natts; i++)
		include[i] = imaged(&ti->cols[i]);
	append_image(buf, ti, values, isnull, include);
	pfree(values);
	pfree(isnull);
	pfree(include);
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
undoredo_image_append_update(StringInfo buf, TableInfo *ti,
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
		append_image(buf, ti, oldvalues, oldnulls, include);
		append_image(buf, ti, newvalues, newnulls, include);
	}
	pfree(oldvalues);
	pfree(oldnulls);
	pfree(newvalues);
	pfree(newnulls);
	pfree(include);
	return changed;
}

/*
 * Read the image at buf's cursor (as appended by append_image) and move
 * the cursor past it.  The values point into buf.
 */
void
undoredo_image_read(StringInfo msg, RowImage *image)
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
		v->typid = (Oid) pq_getmsgint(&buf, 4);
		v->format = pq_getmsgbyte(&buf);
		v->len = (int32) pq_getmsgint(&buf, 4);
		v->data = NULL;
		if (v->format != 'n')
			v->data = pq_getmsgbytes(&buf, v->len);
	}
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

/* The value as a datum of the column's type; the value is not null. */
Datum
undoredo_image_datum(TableInfo *ti, const ImageValue *v)
{
	ColumnInfo *col = &ti->cols[v->attnum - 1];
	StringInfoData buf;

	if (v->format == 'r' || v->format == 'R')
	{
		char	   *copy;

		if (v->format != FORMAT_RAW)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot replay a value of column \"%s\" of table \"%s\" recorded on a server of another byte order",
							NameStr(col->name), ti->relname)));
		if (col->typlen > 0 && v->len != col->typlen)
			elog(ERROR, "undoredo: stored value of column \"%s\" has length %d, not %d",
				 NameStr(col->name), v->len, col->typlen);
		copy = palloc(Max(v->len, (int) sizeof(Datum)));
		memcpy(copy, v->data, v->len);
		if (col->typbyval)
			return fetch_att(copy, true, col->typlen);
		return PointerGetDatum(copy);
	}

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, v->data, v->len);
	if (v->format == 'b')
		return ReceiveFunctionCall(&col->recv_finfo, &buf, col->ioparam,
								   col->typmod);
	return InputFunctionCall(&col->recv_finfo, buf.data, col->ioparam,
							 col->typmod);
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
