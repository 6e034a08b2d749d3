/*-------------------------------------------------------------------------
 *
 * extension.c
 *	  Where the extension's objects live, which version they are, who owns
 *	  them, and running as that owner.
 *
 * The history tables are private to the extension's owner.  Capture runs
 * inside the writer's statement and replay as the caller, so every
 * statement on the history switches to the owner for just that statement,
 * as ri_triggers.c does (SECURITY_LOCAL_USERID_CHANGE).
 *
 * The schema, owner and the oids of the extension's relations are looked
 * up once and kept across transactions; they are forgotten when one of the
 * relations changes (DROP or ALTER EXTENSION, a new owner) or a schema is
 * renamed.  A library of another version than the installed SQL objects
 * refuses to work: it would misread the history.
 *
 *-------------------------------------------------------------------------
 */

#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xlog.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "undoredo.h"

/*
 * Where the extension's objects are, kept across transactions and forgotten
 * when one of its relations changes (DROP or ALTER EXTENSION, a new owner)
 * or a schema is renamed.
 */
static UndoRedoExtension extension;
static bool extension_valid = false;
static const char *const history_relations[] = {
	"undoredo_scope", "undo_action", "redo_action", "undoredo_change",
	"undoredo_scope_object_type_object_id_key", "redo_action_scope_idx",
	"undoredo_scope_seq", "undoredo_step_seq",
	"undoredo_scope_pkey", "undoredo_change_pkey"
};
static Oid	history_relids[lengthof(history_relations)];

static void
forget_extension_rel(Datum arg pg_attribute_unused(), Oid relid)
{
	int			i;

	for (i = 0; i < (int) lengthof(history_relids); i++)
		if (relid == InvalidOid || relid == history_relids[i])
			extension_valid = false;
}

static void
forget_extension(Datum arg pg_attribute_unused(), int cacheid pg_attribute_unused(),
				 uint32 hashvalue pg_attribute_unused())
{
	extension_valid = false;
}

const UndoRedoExtension *
undoredo_extension(void)
{
	Oid			extoid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Form_pg_extension form;
	char	   *version;
	const char *qschema;
	bool		isnull;
	int			i;

	if (extension_valid)
		return &extension;

	extoid = get_extension_oid("undoredo", true);
	if (!OidIsValid(extoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"undoredo\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION undoredo.")));

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "could not find tuple for extension %u", extoid);
	form = (Form_pg_extension) GETSTRUCT(tuple);
	extension.schema = form->extnamespace;
	extension.owner = form->extowner;
	version = TextDatumGetCString(heap_getattr(tuple, Anum_pg_extension_extversion,
											   RelationGetDescr(rel), &isnull));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	/* the history layout of another version would be misread */
	if (strcmp(version, UNDOREDO_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"undoredo\" is installed at version %s, but its library is version %s",
						version, UNDOREDO_VERSION),
				 errhint("Run ALTER EXTENSION undoredo UPDATE.")));

	/*
	 * The history's kept plans are found by this generation (plans.c): a
	 * new one only when the schema's name, which their SQL text holds,
	 * changed.  Re-created or altered relations of the same names are
	 * re-planned by the plan cache itself.
	 */
	qschema = quote_identifier(get_namespace_name(extension.schema));
	if (extension.qschema == NULL || strcmp(extension.qschema, qschema) != 0)
	{
		if (extension.qschema)
			pfree(extension.qschema);
		extension.qschema = MemoryContextStrdup(TopMemoryContext, qschema);
		extension.generation++;
	}
	extension_valid = true;
	for (i = 0; i < (int) lengthof(history_relations); i++)
	{
		history_relids[i] = get_relname_relid(history_relations[i], extension.schema);
		if (!OidIsValid(history_relids[i]))
			extension_valid = false;	/* damaged: look again next time */
	}
	return &extension;
}

/* The oid of one of the extension's relations, by name. */
Oid
undoredo_history_relid(const char *name)
{
	int			i;

	(void) undoredo_extension();
	for (i = 0; i < (int) lengthof(history_relations); i++)
	{
		if (strcmp(history_relations[i], name) != 0)
			continue;
		if (!OidIsValid(history_relids[i]))
			elog(ERROR, "undoredo: relation \"%s\" of the extension is missing", name);
		return history_relids[i];
	}
	elog(ERROR, "undoredo: \"%s\" is not a relation of the extension", name);
	return InvalidOid;			/* keep the compiler quiet */
}

void
undoredo_become_owner(UserContext *saved)
{
	const UndoRedoExtension *ext = undoredo_extension();

	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(ext->owner,
						   saved->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
undoredo_restore_user(const UserContext *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * PostgreSQL keeps room for ten relcache callbacks per backend, for every
 * library loaded together (Citus registers five, PostgreSQL some of its
 * own): this library registers one, which calls each of its caches'.
 */
#define RELCACHE_CALLBACKS 8

static RelcacheCallbackFunction relcache_callbacks[RELCACHE_CALLBACKS];
static int	nrelcache_callbacks = 0;

static void
relcache_changed(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < nrelcache_callbacks; i++)
		relcache_callbacks[i] (arg, relid);
}

/* Call fn for every relcache invalidation, as CacheRegisterRelcacheCallback. */
void
undoredo_on_relcache_change(RelcacheCallbackFunction fn)
{
	if (nrelcache_callbacks == RELCACHE_CALLBACKS)
		elog(FATAL, "undoredo: out of relcache callback slots");
	relcache_callbacks[nrelcache_callbacks++] = fn;
}

void
undoredo_extension_init(void)
{
	CacheRegisterRelcacheCallback(relcache_changed, (Datum) 0);
	undoredo_on_relcache_change(forget_extension_rel);
	CacheRegisterSyscacheCallback(NAMESPACEOID, forget_extension, (Datum) 0);
}

/*
 * Where the history is recorded: "<system identifier>:<database oid>".  A
 * table's oid names the same table, and its attnums the same columns, only
 * in the database that recorded the chunk (or a physical copy of it):
 * another database, even of the same cluster, may have a table of the
 * same oid (image.c).
 */
const char *
undoredo_origin(void)
{
	static char *origin = NULL;

	if (origin == NULL)
		origin = MemoryContextStrdup(TopMemoryContext,
									 psprintf(UINT64_FORMAT ":%u",
											  GetSystemIdentifier(),
											  MyDatabaseId));
	return origin;
}
