# undoredo: per-object undo/redo histories in PostgreSQL (PGXS build)

MODULE_big = undoredo
OBJS = src/guc.o src/catalog.o src/tableinfo.o src/image.o src/capture.o \
       src/replay.o src/history.o
EXTENSION = undoredo
DATA = sql/undoredo--1.0.sql
PGFILEDESC = "undoredo - per-object undo/redo histories"

REGRESS = install tracking capture undo_redo types conflicts privileges \
          history guarantees constraints partitions

ISOLATION = undo_undo capture_undo scopes_parallel undo_conflict


PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

override CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

.PHONY: test demo deps
deps:
	@bash test/deps.sh

test: deps
	@bash test/run.sh

demo: deps
	@bash test/demo.sh
