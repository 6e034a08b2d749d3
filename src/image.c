/*-------------------------------------------------------------------------
 *
 * image.c
 *	  Binary row images.
 *
 * An image is a bytea holding a count and, per column, its attnum, its type
 * oid at capture, a format byte and the value: the type's binary send form
 * ('b'), its text output for a type without send/receive ('t'), or null
 * ('n').  The send form is exact and does not depend on session settings
 * (DateStyle, TimeZone, extra_float_digits), and computing it detoasts the
 * value, so an out-of-line original may be vacuumed away afterwards.
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
#include "utils/datum.h"

#include "undoredo.h"

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

static bytea *
build_image(TableInfo *ti, HeapTuple tuple, const bool *include, int count)
{
	StringInfoData buf;
	int			i;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, count);
	for (i = 0; i < ti->natts; i++)
	{
		Datum		value;
		bool		isnull;

		if (!include[i])
			continue;
		value = heap_getattr(tuple, i + 1, ti->rootdesc, &isnull);
		append_value(&buf, &ti->cols[i], i + 1, value, isnull);
	}
	return pq_endtypsend(&buf);
}

/* Every column of a row (an inserted or deleted row), in root layout. */
bytea *
undoredo_image_full(TableInfo *ti, HeapTuple tuple)
{
	bool	   *include = palloc(sizeof(bool) * ti->natts);
	int			count = 0;
	int			i;

	for (i = 0; i < ti->natts; i++)
	{
		include[i] = imaged(&ti->cols[i]);
		if (include[i])
			count++;
	}
	return build_image(ti, tuple, include, count);
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
 * Images of an update: the key and the changed columns, before and after.
 * Returns false when no column changed.
 */
bool
undoredo_image_update(TableInfo *ti, HeapTuple oldtup, HeapTuple newtup,
					  bytea **oldimg, bytea **newimg)
{
	bool	   *include = palloc0(sizeof(bool) * ti->natts);
	bool		changed = false;
	int			count = 0;
	int			i;

	for (i = 0; i < ti->natts; i++)
	{
		Datum		a,
					b;
		bool		anull,
					bnull;

		if (!imaged(&ti->cols[i]))
			continue;
		a = heap_getattr(oldtup, i + 1, ti->rootdesc, &anull);
		b = heap_getattr(newtup, i + 1, ti->rootdesc, &bnull);
		if (!same_stored_form(&ti->cols[i], a, anull, b, bnull))
		{
			include[i] = true;
			changed = true;
		}
	}
	if (!changed)
		return false;
	for (i = 0; i < ti->nkeys; i++)
		include[ti->keys[i] - 1] = true;
	if (ti->key_deferrable)
		for (i = 0; i < ti->natts; i++)
			include[i] = imaged(&ti->cols[i]);
	for (i = 0; i < ti->natts; i++)
		if (include[i])
			count++;
	*oldimg = build_image(ti, oldtup, include, count);
	*newimg = build_image(ti, newtup, include, count);
	return true;
}

void
undoredo_image_parse(bytea *img, RowImage *image)
{
	StringInfoData buf;
	int			i;

	buf.data = VARDATA_ANY(img);
	buf.len = VARSIZE_ANY_EXHDR(img);
	buf.maxlen = buf.len;
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

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, v->data, v->len);
	if (v->format == 'b')
		return ReceiveFunctionCall(&col->recv_finfo, &buf, col->ioparam,
								   col->typmod);
	return InputFunctionCall(&col->recv_finfo, buf.data, col->ioparam,
							 col->typmod);
}
