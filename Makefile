# undoredo: per-object undo/redo histories in PostgreSQL (PGXS build)

MODULE_big = undoredo
OBJS = src/guc.o src/catalog.o src/tableinfo.o src/image.o src/capture.o \
       src/replay.o src/history.o
EXTENSION = undoredo
DATA = sql/undoredo--1.0.sql
PGFILEDESC = "undoredo - per-object undo/redo histories"

REGRESS = install tracking capture undo_redo types conflicts privileges \
          history guarantees constraints partitions schema

ISOLATION = undo_undo capture_undo scopes_parallel undo_conflict lock_order repeatable_read


# Debian's server-dev package puts pg_config here; PG_CONFIG=... overrides.
PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
# make test and make demo install the build dependencies first
all installcheck install:
	@echo "PostgreSQL server headers (PGXS) not found: run 'make deps' (or make test)" >&2
	@exit 1
endif
.DEFAULT_GOAL := all


.PHONY: test demo deps lint
deps:
	@bash test/deps.sh

lint:
	@bash test/lint.sh

test: deps
	@bash test/run.sh

demo: deps
	@bash test/demo.sh

$(OBJS): src/undoredo.h
