/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The undoredo.* settings.
 *
 * undoredo.scope names the object a transaction edits, as
 * "<object_type>:<object_id>" split at the first colon.  Its check hook
 * rejects a malformed value when it is set.  A value set before this library
 * was loaded in the session was only a placeholder, which the check hook
 * sees when the real variable is defined: it takes no scope instead (where
 * PostgreSQL would warn and drop the value), and the first captured write
 * reports the value as an error, once, so a session that set a scope never
 * silently captures nothing.
 *
 * undoredo.replaying is on only while undoredo_undo/undoredo_redo run; the
 * library assigns it, and its check hook refuses every SET of it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"
#include "utils/memutils.h"

#include "undoredo.h"

char	   *undoredo_scope = NULL;
char	   *undoredo_label = NULL;
char	   *undoredo_actor = NULL;
int			undoredo_max_steps = 0;
int			undoredo_on_conflict = UNDOREDO_CONFLICT_ERROR;
bool		undoredo_replaying = false;

/*
 * The variable behind the undoredo.replaying setting.  The library's state
 * is undoredo_replaying, which replay.c assigns and the show hook reports:
 * a RESET, which PostgreSQL applies without asking the check hook, changes
 * only this copy, never what capture and replay go by.
 */
static bool replaying_setting = false;

/* a malformed scope that was set before the library was loaded */
static char *rejected_scope = NULL;

/* the library is defining its variables (undoredo_define_settings) */
static bool defining = false;

static const struct config_enum_entry on_conflict_options[] = {
	{"error", UNDOREDO_CONFLICT_ERROR, false},
	{"overwrite", UNDOREDO_CONFLICT_OVERWRITE, false},
	{NULL, 0, false}
};

static bool
scope_is_valid(const char *value)
{
	const char *colon = strchr(value, ':');

	return colon != NULL && colon != value && colon[1] != '\0';
}

#define SCOPE_DETAIL "A scope is \"<object_type>:<object_id>\", split at the first colon, both parts non-empty."

static bool
check_scope(char **newval, void **extra pg_attribute_unused(),
			GucSource source pg_attribute_unused())
{
	if (*newval == NULL || (*newval)[0] == '\0' || scope_is_valid(*newval))
		return true;
	if (defining)
	{
		/*
		 * A value set before the library was loaded, which PostgreSQL would
		 * warn of and drop: take no scope instead, silently.  The first
		 * captured write reports it as an error, once (rejected_scope).
		 */
#if PG_VERSION_NUM >= 160000
		guc_free(*newval);
		*newval = guc_strdup(ERROR, "");
#else
		free(*newval);
		*newval = strdup("");
		if (*newval == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
#endif
		return true;
	}
	GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
	GUC_check_errmsg("invalid value for parameter \"undoredo.scope\": \"%s\"",
					 *newval);
	GUC_check_errdetail(SCOPE_DETAIL);
	return false;
}

static void
assign_scope(const char *newval pg_attribute_unused(),
			 void *extra pg_attribute_unused())
{
	/* a scope set by the session supersedes one rejected at load */
	if (rejected_scope != NULL)
	{
		pfree(rejected_scope);
		rejected_scope = NULL;
	}
}

/*
 * Only the library sets undoredo.replaying, by assigning the variable.
 * Every SET or set_config of it is refused, whatever the value, and so is
 * any "on".  The definition's default is accepted, and so is an "off" on a
 * database or role (ALTER ... SET): the install scripts before 1.1.2 set
 * it, and databases set up by them still have it.
 */
static bool
/* cppcheck-suppress constParameter ; the hook signature is fixed */
check_replaying(bool *newval, void **extra pg_attribute_unused(),
				GucSource source)
{
	if (source == PGC_S_DEFAULT ||
		((source < PGC_S_CLIENT || source == PGC_S_TEST) && !*newval))
		return true;
	GUC_check_errcode(ERRCODE_CANT_CHANGE_RUNTIME_PARAM);
	GUC_check_errmsg("parameter \"undoredo.replaying\" cannot be set");
	GUC_check_errdetail("It is on only while undoredo_undo or undoredo_redo runs.");
	return false;
}

static const char *
show_replaying(void)
{
	return undoredo_replaying ? "on" : "off";
}

/*
 * Is a scope in effect?  Raises the error for a malformed scope that was
 * set before the library was loaded.
 */
bool
undoredo_scope_active(void)
{
	if (undoredo_scope != NULL && undoredo_scope[0] != '\0')
		return true;
	if (rejected_scope != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for parameter \"undoredo.scope\": \"%s\"",
						rejected_scope),
				 errdetail(SCOPE_DETAIL),
				 errhint("The value was set before the undoredo library was loaded in this session, so it was not applied. Set a valid scope.")));
	return false;
}

/* Define the settings (at module load, undoredo.c). */
void
undoredo_define_settings(void)
{
	const char *placeholder = GetConfigOption("undoredo.scope", true, false);
	char	   *rejected = NULL;

	if (placeholder != NULL && placeholder[0] != '\0' &&
		!scope_is_valid(placeholder))
		rejected = MemoryContextStrdup(TopMemoryContext, placeholder);

	defining = true;
	DefineCustomStringVariable("undoredo.scope",
							   "Object whose undo history captures this transaction's changes.",
							   "\"<object_type>:<object_id>\"; empty captures nothing.",
							   &undoredo_scope,
							   "",
							   PGC_USERSET,
							   0,
							   check_scope, assign_scope, NULL);
	defining = false;
	DefineCustomStringVariable("undoredo.label",
							   "Label recorded on the undo step this transaction creates.",
							   NULL,
							   &undoredo_label,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("undoredo.actor",
							   "Who makes the changes this transaction captures, as the application names them.",
							   "Recorded on the undo step this transaction creates; empty records none.",
							   &undoredo_actor,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("undoredo.max_steps",
							"Undoable steps a scope keeps when a new step is recorded (0: all).",
							NULL,
							&undoredo_max_steps,
							0, 0, INT_MAX,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("undoredo.on_conflict",
							 "What undo and redo do with rows changed outside the history.",
							 "\"error\" refuses the call, \"overwrite\" forces the recorded state.",
							 &undoredo_on_conflict,
							 UNDOREDO_CONFLICT_ERROR,
							 on_conflict_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("undoredo.replaying",
							 "Shows whether undoredo_undo or undoredo_redo is running.",
							 NULL,
							 &replaying_setting,
							 false,
							 PGC_USERSET,
							 GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							 check_replaying, NULL, show_replaying);

	MarkGUCPrefixReserved("undoredo");

	/* after the definitions: their assign hooks clear rejected_scope */
	rejected_scope = rejected;
}
