/*-------------------------------------------------------------------------
 *
 * undoredo.c
 *	  Module load: the settings, the hooks and the callbacks of the
 *	  extension's layers.
 *
 * The files are layered; each calls only the ones below it:
 *
 *	top		capture.c (the trigger, track and untrack), replay.c (undo and
 *			redo), history.c (status, history and clear)
 *	middle	access.c (who may read, replay and write a scope), scope.c (the
 *			scope lock, steps, pending changes, transaction callbacks)
 *	bottom	store.c (the only code that reads or writes the history
 *			tables), image.c (row images), tableinfo.c (what a tracked
 *			table looks like), plans.c (kept SPI plans), extension.c (where
 *			the extension's objects are, and their owner), guc.c (settings)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "undoredo.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	undoredo_define_settings();
	undoredo_extension_init();
	undoredo_scope_init();
}
