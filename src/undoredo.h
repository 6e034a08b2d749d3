/*-------------------------------------------------------------------------
 *
 * undoredo.h
 *	  Declarations shared by the files of the undoredo extension.
 *
 * The files, top layer first; each calls only files below it (undoredo.c
 * calls every layer's init function):
 *
 * undoredo.c  module load (_PG_init)
 * capture.c   the trigger and undoredo_track/undoredo_untrack
 * replay.c    undoredo_undo/undoredo_redo/undoredo_revert
 * changes.c   undoredo_changes
 * history.c   undoredo_status/undoredo_history/undoredo_clear
 * verify.c    undoredo_verify: what could change tracked data uncaptured
 * access.c    who may read, clear, undo and redo a scope, and write into it
 * scope.c     the scope lock, the current step, pending changes: the only
 *             file that knows transaction state
 * store.c     the history tables: the only file that reads or writes them
 * placement.c on Citus: this node's shards of a registered object type's
 *             history and of the tables it names
 * image.c     binary row images
 * tableinfo.c what capture and replay need to know about a tracked table
 * citus.c     on Citus: where a scope's history is not, whose rows a shard
 *             holds
 * plans.c     kept SPI plans
 * extension.c the extension's own objects: schema, version, owner
 * guc.c       settings, scope parsing
 *
 * The declarations below go bottom layer first.
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
#include "utils/inval.h"
#include "utils/relcache.h"

/* SQLSTATE of a conflict: a row changed outside the history */
#define ERRCODE_UNDOREDO_CONFLICT MAKE_SQLSTATE('U','R','0','0','1')

/* the version of the SQL objects this library works with */
#define UNDOREDO_VERSION "1.3"

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
extern char *undoredo_actor;
extern int	undoredo_max_steps;
extern int	undoredo_on_conflict;
extern bool undoredo_replaying;

extern bool undoredo_scope_active(void);
extern void undoredo_define_settings(void);

/* extension.c */
typedef struct UndoRedoExtension
{
	Oid			schema;			/* namespace of the extension's objects */
	Oid			owner;			/* role the history is read and written as */
	char	   *qschema;		/* quoted schema name, for SQL text */
	uint64		generation;		/* counts the names qschema has had */
} UndoRedoExtension;

typedef struct UserContext
{
	Oid			userid;
	int			sec_context;
} UserContext;

extern const UndoRedoExtension *undoredo_extension(void);
extern Oid	undoredo_history_relid(const char *name);
extern void undoredo_become_owner(UserContext *saved);
extern void undoredo_restore_user(const UserContext *saved);
extern const char *undoredo_origin(void);
extern void undoredo_on_relcache_change(RelcacheCallbackFunction fn);
extern void undoredo_extension_init(void);

/* plans.c */
extern SPIPlanPtr undoredo_plan(Oid relid, const char *sql, int nargs,
								const Oid *argtypes);
extern int	undoredo_execute_plan(SPIPlanPtr plan, Datum *values,
								  const char *nulls, Snapshot snapshot,
								  bool read_only, long count);
extern SPIPlanPtr undoredo_plan_once(const char *sql, int nargs,
									const Oid *argtypes);
extern SPIPlanPtr undoredo_plan_for(uint32 purpose, char *(*build) (void *arg),
								   void *arg, int nargs, const Oid *argtypes);
extern int	undoredo_kept_plans(void);
extern void undoredo_plans_at_xact_end(void);
extern void undoredo_spi_connect(void);
extern void undoredo_spi_finish(void);
extern bool undoredo_spi_connected(void);

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
	char		format;			/* how values are imaged: 'r', 'b', 'o',
								 * 'c', 'a' or 't' (image.c) */
	bool		usertype;		/* typid is not a built-in type's */
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
	char	   *target;			/* what UPDATE, DELETE and SELECT name: "ONLY
								 * qname" for a plain table, so that rows of
								 * inheritance children are never touched */
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
	char	   *relcolumns;		/* rootid's column names by attnum, as a
								 * text[] literal, NULL for dropped ones */
	uint32		layout;			/* a number of this build of the entry */
	AttrNumber	citus_key;		/* relid is a Citus shard: the attnum of its
								 * distribution column, -1 for a table not
								 * distributed by an object's key; else 0 */
} TableInfo;

/* placement.c */
#define UNDOREDO_MAX_TYPE_NAME 30	/* of an object type registered for Citus */

extern bool undoredo_citus_loaded(void);
extern bool undoredo_placement_type_name_ok(const char *object_type);
extern Oid	undoredo_placement_history_table(const char *object_type,
											 const char *part);
extern bool undoredo_placement_shards(int n, const Oid *relids, int64 key,
									  Oid *shards);
extern Oid	undoredo_placement_table_id(Oid relid);
extern Oid	undoredo_placement_table_shard(Oid id, int64 key);
extern Oid	undoredo_placement_logical_table(Oid relid);

/* citus.c */
#define UNDOREDO_SCOPE_UNKNOWN PG_INT64_MIN	/* a scope id not looked up */

extern AttrNumber undoredo_citus_shard_key(Relation rel);
extern void undoredo_citus_check_row(TableInfo *ti, Relation rel,
									 HeapTuple tuple, const char *scope);
extern void undoredo_citus_check_here(const char *object_type,
									  const char *object_id, int64 scope_id);
extern bool undoredo_citus_table(Oid relid);
extern void undoredo_citus_refuse_untravelled(const char *relname,
											  const char *scope);
extern void undoredo_citus_track(Oid relid, const char *qname,
								 const char *qschema, bool again);
extern void undoredo_citus_untrack(Oid relid, const char *qname,
								   const char *qschema);

extern TableInfo *undoredo_table_info(Relation rel, Oid rootid);
extern TableInfo *undoredo_cached_table_info(Oid relid);
extern Oid	undoredo_primary_key(Relation rel);
extern TableInfo *undoredo_table_info_by_oid(Oid relid, int64 step);

/* image.c */
/*
 * The oids of user-defined types that images hold (image.c): what a chunk
 * lists in its type dictionary.
 */
typedef struct TypeSet
{
	int			ntypes;
	int			maxtypes;
	Oid		   *types;
} TypeSet;

typedef struct ImageValue
{
	AttrNumber	attnum;
	Oid			typid;			/* in this database (mapped when read) */
	char		format;			/* 'r'/'R' stored form, 'b' send/receive,
								 * 'o' by name, 'c' composite, 'a' array,
								 * 't' text, 'n' null */
	const char *data;
	int32		len;
} ImageValue;

/*
 * A chunk's type dictionary as replay reads it: the oids of user-defined
 * types at capture, and the same types in this database (after a restore,
 * other oids).  ntypes 0: the images' oids are this database's.
 */
typedef struct TypeMap
{
	int			ntypes;
	bool		identity;		/* every oid maps to itself */
	Oid		   *captured;
	Oid		   *current;
} TypeMap;

/*
 * One row of undoredo_change as replay needs it.  typoids and types are
 * NULL for a chunk without user-defined types, and for every chunk written
 * before 1.1.1; reloids, relcolumns and origin are NULL for chunks written
 * before they were added (image.c).
 */
typedef struct HistoryChunk
{
	int32		nchanges;
	struct ArrayType *relids;	/* regclass[] */
	struct ArrayType *typoids;	/* oid[] or NULL */
	struct ArrayType *types;	/* regtype[] or NULL */
	struct ArrayType *reloids;	/* oid[] or NULL */
	struct ArrayType *relcolumns;	/* text[] or NULL */
	text	   *origin;			/* or NULL */
	bytea	   *changes;
} HistoryChunk;

/*
 * Where the columns a chunk's images recorded (by their attnum at capture)
 * are in a table now: current[attnum] is the column's attnum now, 0 when
 * it is gone.  current NULL: the attnums are the table's own.
 */
typedef struct AttnumMap
{
	int			natts;			/* attnums recorded: 1 .. natts */
	AttrNumber *current;		/* [natts + 1] or NULL */
} AttnumMap;

typedef struct RowImage
{
	int			nvalues;
	ImageValue *values;
} RowImage;

/* One recorded change, as read from a chunk (capture.c's record_change). */
typedef struct Change
{
	Oid			relid;
	char		op;
	RowImage	before;			/* 'u' and 'd' */
	RowImage	after;			/* 'u' and 'i' */
} Change;

extern char undoredo_image_format(Oid typid, int16 typlen);
extern void undoredo_typeset_add(TypeSet *set, Oid typid, MemoryContext cxt);
extern void undoredo_image_append_full(StringInfo buf, TypeSet *types,
									   TableInfo *ti, HeapTuple tuple);
extern bool undoredo_image_append_update(StringInfo buf, TypeSet *types,
										 TableInfo *ti, HeapTuple oldtup,
										 HeapTuple newtup);
extern void undoredo_type_map(const HistoryChunk *chunk, TypeMap *map);
extern void undoredo_attnum_maps(const HistoryChunk *chunk, int nrelids,
								 const Oid *relids, AttnumMap *maps);
extern void undoredo_image_remap(RowImage *image, const AttnumMap *map);
extern void undoredo_image_read(StringInfo msg, const TypeMap *map,
								RowImage *image);
extern Datum undoredo_image_datum(TableInfo *ti, const ImageValue *v);
extern Datum undoredo_image_value(const ImageValue *v);
extern bytea *undoredo_image_sent(TableInfo *ti, const ImageValue *v);
extern ImageValue *undoredo_image_find(RowImage *image, AttrNumber attnum);
extern int32 undoredo_read_chunk(const HistoryChunk *chunk, int64 step,
								 Change **changes);

/* store.c */

/* What a scope's row says of its owner and its set of tables. */
typedef struct ScopeRow
{
	Oid			owner;			/* InvalidOid: none */
	int			ntables;
	Oid		   *tables;
} ScopeRow;

/* One step of a scope, as undoredo_history lists it. */
typedef struct HistoryStep
{
	int64		step;
	bool		undoable;		/* in undo_action, else in redo_action */
	char	   *label;			/* or NULL */
	TimestampTz created_at;
	int64		changes;
	char	   *actor;			/* or NULL */
	int64		reverts;		/* the step it reverted, or 0 */
} HistoryStep;

extern int64 undoredo_store_scope(const char *scope, Oid owner, Oid relid,
								  ScopeRow *row);
extern void undoredo_store_remember_scope(const char *scope, int64 scope_id,
										  const ScopeRow *row);
extern bool undoredo_store_cached_owner(const char *scope, Oid *owner);
extern Oid	undoredo_store_read_owner(const char *scope);
extern bool undoredo_store_has_redo(int64 scope_id, const char *actor);
extern int64 undoredo_store_step(int64 scope_id, const char *label,
								 const char *actor, int64 reverts,
								 TimestampTz created_at);
extern void undoredo_store_chunk(int64 scope_id, int64 step, int32 seq,
								 int32 count, int nrelids, const Oid *relids,
								 char *const *relcolumns,
								 const TypeSet *types, StringInfo data);
typedef struct UndoRedoChangeScan UndoRedoChangeScan;

extern UndoRedoChangeScan *undoredo_store_begin_changes(int64 scope_id, int64 step,
														bool backward);
extern Change *undoredo_store_next_change(UndoRedoChangeScan *cs);
extern void undoredo_store_end_changes(UndoRedoChangeScan *cs);
extern bool undoredo_store_newer_than_snapshot(int64 scope_id);
extern void undoredo_store_counts(int64 scope_id, const char *actor,
								  int32 *undo_count, int32 *redo_count);
extern void undoredo_store_discard_steps(int64 scope_id, bool undoable);
extern void undoredo_store_discard_redo(int64 scope_id, const char *actor);
extern void undoredo_store_prune(int64 scope_id, int32 keep);
extern int64 undoredo_store_scope_tables(const char *object_type,
										 const char *object_id, bool latest,
										 int *ntables, Oid **tables);
extern bool undoredo_store_refers_to(int64 scope_id, Oid relid);
extern Oid	undoredo_store_claim(int64 scope_id, Oid writer);
extern void undoredo_store_add_table(int64 scope_id, Oid relid);
extern void undoredo_store_clear_scope(int64 scope_id);
extern HistoryStep *undoredo_store_history(int64 scope_id, int *nsteps);
extern void undoredo_store_move_step(bool undo, int64 scope_id, int64 step,
									 int64 undone);
extern int64 undoredo_store_last_undone(int64 scope_id);
extern int64 undoredo_store_next_step(bool undo, int64 scope_id,
									  const char *actor, int64 from,
									  int64 *order);
extern bool undoredo_store_step_info(int64 scope_id, int64 step,
									 bool *undoable, char **label);
extern int64 *undoredo_store_later_steps(int64 scope_id, int64 step,
										 int *nsteps);

/* scope.c */
/*
 * While the AFTER triggers queued by a replayed step fire (replay.c), what
 * the capture trigger needs to tell the step's own row changes from those
 * of foreign key actions and triggers firing then: every statement of the
 * step ran with a command id up to last_cid.
 */
typedef struct UndoRedoReplayFiring
{
	bool		active;
	bool		undo;
	bool		overwrite;
	int64		step;
	CommandId	last_cid;
} UndoRedoReplayFiring;

extern UndoRedoReplayFiring undoredo_replay_firing;



/* field4 of the advisory lock tags of scope locks ("UR") */
#define UNDOREDO_LOCK_SPACE 0x5552

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
	/* scope.c's bookkeeping of the subtransactions that touched it */
	SubTransactionId touched_subid; /* listed as touched by this one */
	SubTransactionId dirty_subid;	/* listed as having changes of this one */
	bool		forgotten;		/* its lock was rolled back */
	int			writing_depth;	/* nesting depth of a statement writing
								 * under it now, or 0 */


	/* access.c: the scope's owner and tables as this transaction knows them */
	Oid			owner;			/* InvalidOid: none known (yet) */
	SubTransactionId owner_subid;	/* subtransaction that claimed it, or 0 */
	Oid			writer;			/* last role found to be a member of owner */
	int			ntables;		/* tables known to be in the scope's set */
	int			maxtables;
	Oid		   *tables;
	SubTransactionId *table_subids; /* that added each one, or 0 */
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
	/* each table's column names when its changes were imaged (image.c) */
	char	   *relcolumns[CHUNK_MAX_RELATIONS];
	uint32		layouts[CHUNK_MAX_RELATIONS];	/* TableInfo.layout they are of */
	int			relbytes;		/* what the tables add to its history row */
	TypeSet		types;			/* user-defined types its images name */
	StringInfoData data;
} PendingChunk;

extern ScopeState *undoredo_lock_scope(const char *scope);
extern ScopeState *undoredo_find_scope_state(const char *scope);
extern bool undoredo_scope_locked(ScopeState *ss);
extern int64 undoredo_scope_id(ScopeState *ss);
extern int64 undoredo_scope_id_writing(ScopeState *ss, Oid owner, Oid relid);
extern int64 undoredo_current_step(ScopeState *ss);
extern void undoredo_close_step(ScopeState *ss);
extern bool undoredo_scope_has_table(ScopeState *ss, Oid relid);
extern void undoredo_scope_add_table(ScopeState *ss, Oid relid);
extern void undoredo_scope_set_owner(ScopeState *ss, Oid owner);
extern void undoredo_scope_cleared(ScopeState *ss);
extern void undoredo_append_change(ScopeState *ss, TableInfo *ti,
								   StringInfo record, const TypeSet *types);
extern void undoredo_scope_writes(ScopeState *ss);
extern void undoredo_flush_for_reading(ScopeState *ss);
extern int64 undoredo_scope_pending_changes(ScopeState *ss);
extern bool undoredo_scope_pending_refers_to(ScopeState *ss, Oid relid);
extern void undoredo_revert_begin(ScopeState *ss, int64 reverts, char *label);
extern void undoredo_revert_end(void);
extern ScopeState *undoredo_reverting(void);
extern int64 undoredo_scope_for_reading(const char *object_type,
										const char *object_id);
extern char *undoredo_object_id_arg(FunctionCallInfo fcinfo, int argno);
extern char *undoredo_object_type_arg(FunctionCallInfo fcinfo, int argno);
extern char *undoredo_actor_arg(FunctionCallInfo fcinfo, int argno);
extern void undoredo_scope_init(void);



/* access.c */
typedef enum UndoRedoAccess
{
	UNDOREDO_ACCESS_READ,		/* history, status: any privilege */
	UNDOREDO_ACCESS_CLEAR,		/* clear: INSERT, UPDATE and DELETE */
	UNDOREDO_ACCESS_REPLAY		/* undo, redo: SELECT, INSERT, UPDATE, DELETE */
} UndoRedoAccess;

extern void undoredo_access_check(const char *object_type, const char *object_id,
								  UndoRedoAccess need);
extern ScopeState *undoredo_access_lock_scope(const char *object_type,
											  const char *object_id,
											  UndoRedoAccess need);
extern void undoredo_access_before_lock(const char *scope, Oid relid);
extern void undoredo_access_write(ScopeState *ss, Oid relid);
extern void undoredo_access_cleared(ScopeState *ss);


#endif							/* UNDOREDO_H */
