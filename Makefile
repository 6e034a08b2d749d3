# undoredo: per-object undo/redo histories in PostgreSQL (PGXS build)

MODULE_big = undoredo
OBJS = src/undoredo.o src/guc.o src/extension.o src/plans.o src/scope.o src/tableinfo.o src/image.o src/capture.o \
       src/access.o src/citus.o src/placement.o \
       src/replay.o src/history.o src/store.o src/changes.o src/verify.o
EXTENSION = undoredo
DATA = sql/undoredo--1.0.sql sql/undoredo--1.1.sql sql/undoredo--1.0--1.1.sql \
       sql/undoredo--1.1.1.sql sql/undoredo--1.1--1.1.1.sql \
       sql/undoredo--1.1.2.sql sql/undoredo--1.1.1--1.1.2.sql \
       sql/undoredo--1.2.sql sql/undoredo--1.1.2--1.2.sql \
       sql/undoredo--1.3.sql sql/undoredo--1.2--1.3.sql
PGFILEDESC = "undoredo - per-object undo/redo histories"

REGRESS = install tracking capture undo_redo types conflicts privileges \
          access history guarantees constraints partitions schema badinput \
          security batches usercode plans force_rls equal_keys inheritance \
          replay_triggers fk_actions attributes columns wide rolled_back_chunks \
          maintenance detach savepoints error_fields upgrade upgrade_11 large_values \
          actors revert changes verify

ISOLATION = undo_undo capture_undo scopes_parallel undo_conflict lock_order \
            repeatable_read deadlock_scopes prune_undo undo_untrack redo_redo \
            lock_timeout track_again maintenance_concurrent access_wait \
            own_step actors_undo revert_capture


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


.PHONY: test test-all test-citus bench-citus deb dist demo demo-web deps lint bench soak
deps:
	@bash test/deps.sh

lint:
	@bash test/lint.sh

test: deps
	@bash test/run.sh

# every suite on PostgreSQL 15 and 18, compile-and-link checks against 17
# and 19, both Python stacks, the PGXN zip and the Debian package; caches in
# UNDOREDO_CACHE (default /var/cache/undoredo-build)
test-all: deps
	@bash test/test-all.sh

# undoredo on Citus: a coordinator and two workers on this machine, Citus
# built once from the tarballs in ../shared/vendor (cached in UNDOREDO_CACHE);
# CITUS_PG=18 for PostgreSQL 18 (built by test/matrix/build-pg.sh) and Citus 14
test-citus: deps
	@bash test/citus/run.sh $(or $(CITUS_PG),15)

# make bench-citus [CITUS_PG=18]: what capture and undo cost in Citus mode
bench-citus: deps
	@CITUS_SCRIPT=$(CURDIR)/bench/citus.py bash test/citus/run.sh $(or $(CITUS_PG),15)

# build/deb/postgresql-NN-undoredo_*.deb (pg_buildext, one per major)
deb:
	@bash test/deb.sh

# build/undoredo-VERSION.zip for PGXN (META.json checked against undoredo.control)
dist:
	@bash test/dist.sh

demo: deps
	@bash test/demo.sh

demo-web: deps
	@bash test/demo-web.sh

# make bench [BENCH_ARGS=--quick] [PG_CONFIG=...]: capture and replay cost,
# as ratios, on a throwaway server of PG_CONFIG's installation
bench: deps all install
	@PG_CONFIG='$(PG_CONFIG)' bash bench/run.sh $(BENCH_ARGS)

# make soak [SEEDS=200] [DURATION=600] [WORKERS=8] [FUZZ_RUN=60] [FUZZ_SEED=n]:
# the concurrency fuzz for half of DURATION seconds, the randomized model
# test for the other half (test/soak.sh)
soak: deps all install
	@WORKERS='$(WORKERS)' FUZZ_RUN='$(FUZZ_RUN)' FUZZ_SEED='$(FUZZ_SEED)' \
	  bash test/soak.sh $(or $(SEEDS),200) $(or $(DURATION),600)

$(OBJS): src/undoredo.h
