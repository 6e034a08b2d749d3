-- undoredo_changes: what a step changed, for people, and only what the
-- caller could read if the rows were in the tables now
CREATE ROLE undoredo_test_chg_admin;
CREATE ROLE undoredo_test_chg_a;
CREATE ROLE undoredo_test_chg_b;
CREATE ROLE undoredo_test_chg_none;
CREATE SCHEMA changes AUTHORIZATION undoredo_test_chg_admin;
GRANT USAGE ON SCHEMA changes TO PUBLIC;
SET search_path = changes, public;
\set VERBOSITY terse

-- values as to_jsonb shows them, in capture order
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE point2 AS (x integer, y text);
CREATE TABLE thing (id integer PRIMARY KEY, title text, n numeric,
                    at timestamptz, tags text[], p point2, m mood, j jsonb,
                    b bytea, gone integer);
SELECT undoredo_track('thing');
SET TimeZone = 'UTC';
BEGIN;
SET LOCAL undoredo.scope = 'thing:1';
INSERT INTO thing VALUES (1, 'first', 1.50, '2024-05-01 12:00+00', '{a,b}',
                          ROW(1, 'x'), 'ok', '{"k": [1, null]}', '\x0102', 7);
INSERT INTO thing (id) VALUES (2);
UPDATE thing SET title = 'First', n = 2 WHERE id = 1;
UPDATE thing SET id = 3 WHERE id = 2;
UPDATE thing SET title = NULL WHERE id = 1;
DELETE FROM thing WHERE id = 3;
-- the transaction's own step is listed before it commits
SELECT count(*) FROM undoredo_changes('thing', 1,
    (SELECT max(step) FROM undoredo_history('thing', 1)));
COMMIT;
SELECT max(step) AS s1 FROM undoredo_history('thing', 1) \gset
SELECT seq, tbl, op, key, old, new FROM undoredo_changes('thing', 1, :s1);
-- the text form of the object id
SELECT count(*) FROM undoredo_changes('thing', '1', :s1);

-- an undone step is listed too
SELECT * FROM undoredo_undo('thing', 1);
SELECT count(*) FROM undoredo_changes('thing', 1, :s1);
SELECT * FROM undoredo_redo('thing', 1);

-- columns by their current names; one dropped since is left out; one whose
-- type changed shows the value as recorded, in its recorded type
ALTER TABLE thing DROP COLUMN gone;
ALTER TABLE thing RENAME COLUMN title TO heading;
ALTER TABLE thing ALTER COLUMN n TYPE float8;
SELECT seq, op, key, old, new FROM undoredo_changes('thing', 1, :s1)
WHERE seq IN (1, 3);

-- a domain's value is shown as recorded, also when a constraint added to
-- the domain since refuses it
CREATE DOMAIN small AS integer;
CREATE TABLE dom (id integer PRIMARY KEY, v small);
SELECT undoredo_track('dom');
BEGIN;
SET LOCAL undoredo.scope = 'dom:1';
INSERT INTO dom VALUES (1, 1000);
COMMIT;
ALTER DOMAIN small ADD CONSTRAINT under_100 CHECK (VALUE < 100) NOT VALID;
SELECT op, new FROM undoredo_changes('dom', 1,
    (SELECT max(step) FROM undoredo_history('dom', 1)));

-- steps not in the scope's history, a NULL step: errors
BEGIN;
SET LOCAL undoredo.scope = 'thing:2';
INSERT INTO thing (id) VALUES (10);
COMMIT;
SELECT max(step) AS s2 FROM undoredo_history('thing', 2) \gset
SELECT undoredo_test_try(format('SELECT * FROM undoredo_changes(%L, 1, %s)', 'thing', :s2));
SELECT undoredo_test_try($$SELECT * FROM undoredo_changes('thing', 1, 0)$$);
SELECT undoredo_test_try($$SELECT * FROM undoredo_changes('thing', 99, 1)$$);
SELECT undoredo_test_try($$SELECT * FROM undoredo_changes('thing', 1, NULL)$$);

-- Tenants: one table, row-level security by tenant.  The admin (the
-- table's owner) makes steps in a shared scope that touch both tenants'
-- rows; tenant a may read that scope's history (it has privileges on every
-- table of it) and sees its own rows in full, b's rows with key, old and
-- new NULL.
SET ROLE undoredo_test_chg_admin;
CREATE TABLE item (id integer PRIMARY KEY, tenant name NOT NULL,
                   title text, price numeric);
CREATE TABLE share (item integer, grantee name);
SELECT undoredo_track('item');
GRANT SELECT, INSERT, UPDATE, DELETE ON item TO undoredo_test_chg_a,
    undoredo_test_chg_b;
GRANT SELECT ON share TO PUBLIC;
ALTER TABLE item ENABLE ROW LEVEL SECURITY;
-- permissive: own rows, rows named by a setting, rows shared with one
CREATE POLICY own ON item USING (tenant = current_user);
CREATE POLICY by_setting ON item FOR SELECT
    USING (tenant::text = current_setting('chg.also', true));
CREATE POLICY shared ON item FOR SELECT
    USING (EXISTS (SELECT 1 FROM share s
                   WHERE s.item = item.id AND s.grantee = current_user));
-- restrictive: never a classified title
CREATE POLICY unclassified ON item AS RESTRICTIVE FOR SELECT
    USING (title IS DISTINCT FROM 'classified');
-- a policy for another command only, and one for another role: not used
CREATE POLICY upd ON item FOR UPDATE USING (true);
CREATE POLICY other_role ON item FOR SELECT TO undoredo_test_chg_none
    USING (true);
INSERT INTO item VALUES (1, 'undoredo_test_chg_a', 'a one', 10),
                        (2, 'undoredo_test_chg_b', 'b two', 20),
                        (3, 'undoredo_test_chg_a', 'a three', 30),
                        (4, 'undoredo_test_chg_b', 'b four', 40),
                        (5, 'undoredo_test_chg_a', 'a five', 50);
BEGIN;
SET LOCAL undoredo.scope = 'project:1';
-- updates record only the key and the price: the policies' columns come
-- from the rows as they are now
UPDATE item SET price = price * 2;
-- moved from b to a: the row before was b's
UPDATE item SET tenant = 'undoredo_test_chg_a', title = 'was b' WHERE id = 4;
-- a's row made classified: hidden after
UPDATE item SET title = 'classified' WHERE id = 3;
INSERT INTO item VALUES (6, 'undoredo_test_chg_b', 'b six', 60),
                        (7, 'undoredo_test_chg_a', 'a seven', 70);
DELETE FROM item WHERE id IN (2, 5);
COMMIT;
SELECT max(step) AS sp FROM undoredo_history('project', 1) \gset
-- the owner is not subject to its table's policies: sees everything
SELECT seq, op, key, old, new FROM undoredo_changes('project', 1, :sp);
RESET ROLE;

-- a's view: 1, 9 and 11 (a whole deleted row) are a's; 2 and 5 update
-- rows deleted since, whose tenant the update images lack: hidden; 3 and 7
-- are a's row 3, classified now (7's after image too): hidden; 4 updated
-- b's row 4, which is a's now: the tenant an update image lacks is the
-- row's as it is now; 6 moved it from b (its before image is b's: hidden);
-- 8 and 10 are b's
SET ROLE undoredo_test_chg_a;
SELECT seq, op, key, old, new FROM undoredo_changes('project', 1, :sp);
-- a setting the policy reads, and a subquery on another table
SET chg.also = 'undoredo_test_chg_b';
SELECT seq, key IS NOT NULL AS shown FROM undoredo_changes('project', 1, :sp)
WHERE seq IN (2, 8, 10);
RESET chg.also;
RESET ROLE;
INSERT INTO share VALUES (4, 'undoredo_test_chg_a'), (6, 'undoredo_test_chg_a');
SET ROLE undoredo_test_chg_a;
SELECT seq, op, key, old, new FROM undoredo_changes('project', 1, :sp)
WHERE seq IN (6, 8, 10);
RESET ROLE;
DELETE FROM share;

-- with row_security off, a table whose policies apply is refused, as a
-- SELECT of it would be
SET ROLE undoredo_test_chg_a;
SET row_security = off;
SELECT undoredo_test_try(format('SELECT * FROM undoredo_changes(%L, 1, %s)', 'project', :sp));
RESET row_security;
RESET ROLE;

-- b sees its own rows, none of a's
SET ROLE undoredo_test_chg_b;
SELECT seq, op, key, old, new FROM undoredo_changes('project', 1, :sp);
RESET ROLE;

-- FORCE ROW LEVEL SECURITY: the owner's own policies apply to it too
ALTER TABLE item FORCE ROW LEVEL SECURITY;
SET ROLE undoredo_test_chg_admin;
SELECT count(*) AS rows, count(key) AS shown
FROM undoredo_changes('project', 1, :sp);
SET chg.also = 'undoredo_test_chg_b';
SELECT seq, key FROM undoredo_changes('project', 1, :sp) WHERE key IS NOT NULL;
RESET chg.also;
RESET ROLE;
ALTER TABLE item NO FORCE ROW LEVEL SECURITY;

-- Column privileges: a column the caller may not select is left out of
-- key, old and new; a table it may not select at all (it has another
-- privilege, so it may read the history) lists its rows with all three NULL
SET ROLE undoredo_test_chg_admin;
CREATE TABLE account (id integer PRIMARY KEY, owner_name text, salary integer);
CREATE TABLE audit (id integer PRIMARY KEY, what text);
SELECT undoredo_track('account');
SELECT undoredo_track('audit');
GRANT SELECT (id, owner_name), UPDATE ON account TO undoredo_test_chg_a;
GRANT SELECT (owner_name), INSERT ON account TO undoredo_test_chg_b;
GRANT INSERT ON audit TO undoredo_test_chg_a, undoredo_test_chg_b;
BEGIN;
SET LOCAL undoredo.scope = 'payroll:1';
INSERT INTO account VALUES (1, 'ann', 100), (2, 'bob', 200);
UPDATE account SET salary = 150 WHERE id = 1;
UPDATE account SET owner_name = 'Bob' WHERE id = 2;
INSERT INTO audit VALUES (1, 'raise');
COMMIT;
SELECT max(step) AS sa FROM undoredo_history('payroll', 1) \gset
RESET ROLE;
SET ROLE undoredo_test_chg_a;
SELECT seq, tbl, op, key, old, new FROM undoredo_changes('payroll', 1, :sa);
RESET ROLE;
-- b may select only owner_name: no key column
SET ROLE undoredo_test_chg_b;
SELECT seq, tbl, op, key, old, new FROM undoredo_changes('payroll', 1, :sa);
RESET ROLE;

-- no privilege at all on a table of the scope: the call is refused
SET ROLE undoredo_test_chg_none;
SELECT undoredo_test_try(format('SELECT * FROM undoredo_changes(%L, 1, %s)', 'payroll', :sa));
SELECT undoredo_test_try(format('SELECT * FROM undoredo_changes(%L, 1, %s)', 'project', :sp));
RESET ROLE;

-- a table dropped since: its rows are listed, with nothing but the op
BEGIN;
SET LOCAL undoredo.scope = 'payroll:2';
INSERT INTO audit VALUES (2, 'gone soon');
COMMIT;
SELECT max(step) AS sd FROM undoredo_history('payroll', 2) \gset
DROP TABLE audit;
SELECT seq, tbl IS NOT NULL AS has_tbl, op, key, old, new
FROM undoredo_changes('payroll', 2, :sd);

-- a deferrable key: update images hold the whole row, old and new only
-- the columns that changed
CREATE TABLE deferred (id integer PRIMARY KEY DEFERRABLE, a text, b text);
SELECT undoredo_track('deferred');
INSERT INTO deferred VALUES (1, 'x', 'y');
BEGIN;
SET LOCAL undoredo.scope = 'deferred:1';
UPDATE deferred SET b = 'z';
COMMIT;
SELECT op, key, old, new FROM undoredo_changes('deferred', 1,
    (SELECT max(step) FROM undoredo_history('deferred', 1)));

-- a partitioned table: its changes are the root's, and so are its policies
-- (a row moved to another partition was captured as a delete and an insert:
-- b's row deleted is hidden, a's row inserted shown)
CREATE TABLE part (id integer, tenant name, body text, PRIMARY KEY (tenant, id))
    PARTITION BY LIST (tenant);
CREATE TABLE part_a PARTITION OF part FOR VALUES IN ('undoredo_test_chg_a');
CREATE TABLE part_b PARTITION OF part FOR VALUES IN ('undoredo_test_chg_b');
SELECT undoredo_track('part');
GRANT SELECT ON part TO undoredo_test_chg_a;
ALTER TABLE part ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON part USING (tenant = current_user);
BEGIN;
SET LOCAL undoredo.scope = 'part:1';
INSERT INTO part VALUES (1, 'undoredo_test_chg_a', 'a1'),
                        (2, 'undoredo_test_chg_b', 'b2');
UPDATE part SET body = 'A1' WHERE id = 1;
UPDATE part SET tenant = 'undoredo_test_chg_a' WHERE id = 2;
COMMIT;
SELECT max(step) AS spart FROM undoredo_history('part', 1) \gset
SET ROLE undoredo_test_chg_a;
SELECT seq, tbl, op, key, old, new FROM undoredo_changes('part', 1, :spart);
RESET ROLE;

RESET search_path;
DROP SCHEMA changes CASCADE;
DROP ROLE undoredo_test_chg_admin;
DROP ROLE undoredo_test_chg_a;
DROP ROLE undoredo_test_chg_b;
DROP ROLE undoredo_test_chg_none;
