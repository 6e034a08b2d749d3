/* undoredo--1.1--1.1.1.sql: hardening (scope ownership, replay checks) */

\echo Use "ALTER EXTENSION undoredo UPDATE TO '1.1.1'" to load this file. \quit
