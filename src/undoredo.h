/*-------------------------------------------------------------------------
 *
 * undoredo.h
 *	  Declarations shared by the files of the undoredo extension.
 *
 * guc.c       settings, scope parsing, module load
 * catalog.c   the extension's own objects: schema, owner, cached SPI plans,
 *             the scope lock and the per-transaction current step
 * tableinfo.c what capture and replay need to know about a tracked table
 * image.c     binary row images
 * capture.c   the trigger and undoredo_track/undoredo_untrack
 * replay.c    undoredo_undo/undoredo_redo
 * history.c   undoredo_status/undoredo_history/undoredo_clear
 *
 *-------------------------------------------------------------------------
 */
#ifndef UNDOREDO_H
#define UNDOREDO_H

#include "access/htup.h"
#include "access/tupconvert.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/relcache.h"

/* the version of the SQL objects this library works with */
#define UNDOREDO_VERSION "1.1.1"

/*
 * An intended fall-through between case labels.  PostgreSQL 19 builds with
 * -Wimplicit-fallthrough=5, which no comment silences, and defines
 * pg_fallthrough; older majors get the same attribute here.
 */
#ifndef pg_fallthrough
#if defined(__GNUC__) && __GNUC__ >= 7
#define pg_fallthrough __attribute__((fallthrough))
#else
#define pg_fallthrough ((void) 0)
#endif
#endif

/* guc.c */
typedef enum UndoRedoConflictMode
{
	UNDOREDO_CONFLICT_ERROR,
	UNDOREDO_CONFLICT_OVERWRITE
} UndoRedoConflictMode;

extern char *undoredo_scope;
extern char *undoredo_label;
extern int	undoredo_max_steps;
extern int	undoredo_on_conflict;
extern bool undoredo_replaying;

extern bool undoredo_scope_active(void);

/* catalog.c */

/* field4 of the advisory lock tags of scope locks ("UR") */
#define UNDOREDO_LOCK_SPACE 0x5552

typedef struct UndoRedoExtension
{
	Oid			schema;			/* namespace of the extension's objects */
	Oid			owner;			/* role the history is read and written as */
	char	   *qschema;		/* quoted schema name, for SQL text */
} UndoRedoExtension;

typedef struct UserContext
{
	Oid			userid;
	int			sec_context;
} UserContext;

/* A scope this transaction holds the lock of, and its current step. */
typedef struct ScopeState
{
	char	   *scope;			/* "<object_type>:<object_id>" */
	int64		scope_id;		/* 0: not looked up yet (undoredo_scope_id) */
	SubTransactionId id_subid;	/* subtransaction that looked it up */
	SubTransactionId lock_subid;	/* subtransaction that took the lock */
	int64		step;			/* 0: no step yet (or forgotten) */
	int32		next_seq;
	SubTransactionId step_subid;	/* subtransaction that started the step */
	List	   *pending;		/* of PendingChunk: captured, not yet stored */
} ScopeState;

/*
 * Row changes captured but not yet written to the history: a run of
 * consecutively numbered changes of one subtransaction (capture.c).
 */
#define CHUNK_MAX_RELATIONS 32

typedef struct PendingChunk
{
	SubTransactionId subid;
	int32		first_seq;
	int32		count;
	int			nrelids;
	Oid			relids[CHUNK_MAX_RELATIONS];	/* tables its changes refer to */
	StringInfoData data;
} PendingChunk;

extern const UndoRedoExtension *undoredo_extension(void);
extern Oid	undoredo_history_relid(const char *name);
extern void undoredo_become_owner(UserContext *saved);
extern void undoredo_restore_user(const UserContext *saved);
extern SPIPlanPtr undoredo_plan(const char *sql, int nargs, const Oid *argtypes);
extern int	undoredo_run_as_owner(const char *sql, int nargs, const Oid *argtypes,
								  Datum *values, const char *nulls, long count);
extern ScopeState *undoredo_lock_scope(const char *scope);
extern ScopeState *undoredo_current_step(const char *scope);
extern int64 undoredo_scope_id(ScopeState *ss);
extern void undoredo_discard_steps(const char *table, int64 scope_id);
extern void undoredo_close_step(ScopeState *ss);
extern char *undoredo_object_id_arg(FunctionCallInfo fcinfo, int argno);
extern char *undoredo_object_type_arg(FunctionCallInfo fcinfo, int argno);
extern void undoredo_counts(int64 scope_id, int32 *undo_count, int32 *redo_count);
extern void undoredo_xact_init(void);
extern List *undoredo_scope_states(void);
extern ScopeState *undoredo_find_scope_state(const char *scope);

/* store.c */
extern int64 undoredo_store_scope(const char *scope);
extern void undoredo_store_remember_scope(const char *scope, int64 scope_id);
extern bool undoredo_store_has_redo(int64 scope_id);
extern int64 undoredo_store_step(int64 scope_id, const char *label,
								 TimestampTz created_at);
extern void undoredo_store_chunk(int64 step, int32 seq, int32 count,
								 int nrelids, const Oid *relids,
								 StringInfo data);

/* capture.c */
extern void undoredo_capture_init(void);
extern void undoredo_flush_pending(ScopeState *ss, bool all);
extern void undoredo_flush_for_reading(ScopeState *ss);
extern void undoredo_pending_subxact(ScopeState *ss, bool commit,
									 SubTransactionId mySubid,
									 SubTransactionId parentSubid);

/* tableinfo.c */
typedef struct ColumnInfo
{
	NameData	name;
	Oid			typid;
	int32		typmod;
	bool		dropped;
	bool		generated;		/* stored generated: never in an image */
	bool		identity_always;
	bool		typbyval;
	int16		typlen;
	bool		raw;			/* imaged in its stored form (image.c) */
	bool		exact_eq;		/* '=' is equality of stored forms */
	Oid			sendfn;			/* InvalidOid: no binary form, use text */
	Oid			recvfn;
	Oid			outfn;
	Oid			infn;
	Oid			ioparam;
	char	   *sendsql;		/* qualified send function, or output
								 * function when sendfn is invalid */
	char	   *eqop;			/* key columns: OPERATOR(nsp.=) */
	FmgrInfo	send_finfo;		/* sendfn, or outfn */
	FmgrInfo	recv_finfo;		/* recvfn, or infn */
} ColumnInfo;

typedef struct TableInfo
{
	Oid			relid;			/* the relation the trigger fired on */
	Oid			rootid;			/* the tracked table: image layout */
	bool		valid;
	MemoryContext mcxt;
	char	   *qname;			/* quoted qualified name of rootid */
	char	   *relname;		/* for messages */
	Oid			owner;			/* of rootid */
	int			natts;			/* of rootid */
	ColumnInfo *cols;			/* [natts], by attnum - 1 */
	int			nkeys;
	AttrNumber *keys;			/* primary key attnums of rootid */
	bool		key_deferrable;
	bool		fk_actions;		/* referenced by a foreign key with actions */
	struct Bitmapset *unique_cols;	/* columns of immediate unique indexes */
	bool		unique_expr;	/* ... and such an index on expressions */
	TupleDesc	rootdesc;
	TupleConversionMap *map;	/* relid's rows to rootid's layout, or NULL */
} TableInfo;

extern TableInfo *undoredo_table_info(Relation rel, Oid rootid);
extern TableInfo *undoredo_cached_table_info(Oid relid);
extern Oid	undoredo_primary_key(Relation rel);
extern TableInfo *undoredo_table_info_by_oid(Oid relid, int64 step);

/* image.c */
typedef struct ImageValue
{
	AttrNumber	attnum;
	Oid			typid;
	char		format;			/* 'r'/'R' stored form, 'b' send/receive,
								 * 't' text, 'n' null */
	const char *data;
	int32		len;
} ImageValue;

typedef struct RowImage
{
	int			nvalues;
	ImageValue *values;
} RowImage;

extern void undoredo_image_append_full(StringInfo buf, TableInfo *ti,
									   HeapTuple tuple);
extern bool undoredo_image_append_update(StringInfo buf, TableInfo *ti,
										 HeapTuple oldtup, HeapTuple newtup);
extern void undoredo_image_read(StringInfo msg, RowImage *image);
extern Datum undoredo_image_datum(TableInfo *ti, const ImageValue *v);
extern bytea *undoredo_image_sent(TableInfo *ti, const ImageValue *v);
extern ImageValue *undoredo_image_find(RowImage *image, AttrNumber attnum);

#endif							/* UNDOREDO_H */
