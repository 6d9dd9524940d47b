#include "store/postgres_schema.h"

namespace allot::store {

// Names compare byte by byte (COLLATE "C"), as in SQLite, so that paging by
// name works the same on both stores.
//
// allot_apply() applies one caller's writes in a subtransaction of its own:
// all of them, or none and 'code:index' for the first refused one. Its
// rules are write_check.cpp's (RefusalCode); keep them in step.
const std::array<const char*, kPostgresSchemaVersion> kPostgresMigrations = {
    // 0 -> 1: objects, the change log, audit, leases, heartbeats.
    R"sql(
CREATE TABLE objects (
  kind text COLLATE "C" NOT NULL, name text COLLATE "C" NOT NULL,
  revision bigint NOT NULL, created_revision bigint NOT NULL, body text NOT NULL,
  PRIMARY KEY (kind, name));
CREATE TABLE changes (
  revision bigint PRIMARY KEY, kind text NOT NULL, name text NOT NULL,
  deleted boolean NOT NULL, body text NOT NULL);
CREATE TABLE audit (
  id bigserial PRIMARY KEY, time_ms bigint NOT NULL, actor text NOT NULL,
  source text NOT NULL, method text NOT NULL, path text NOT NULL,
  allowed boolean NOT NULL, status integer NOT NULL, detail text NOT NULL);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE TABLE meta (key text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO meta VALUES ('revision', 0);
CREATE TABLE leases (
  name text PRIMARY KEY, holder text NOT NULL, epoch bigint NOT NULL,
  expires_at timestamptz NOT NULL);
CREATE TABLE heartbeats (node text PRIMARY KEY, heard_ms bigint NOT NULL);
CREATE FUNCTION allot_apply(p_ops integer[], p_kinds text[], p_names text[],
                            p_bodies text[], p_expected bigint[], p_revision bigint,
                            p_fence_name text, p_fence_holder text, p_fence_epoch bigint)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  rev bigint := p_revision;
  current_revision bigint;
  current_body text;
  refusal text;
BEGIN
  IF p_fence_name <> '' THEN
    PERFORM 1 FROM leases
      WHERE name = p_fence_name AND holder = p_fence_holder AND epoch = p_fence_epoch
      FOR SHARE;
    IF NOT FOUND THEN RETURN 'fenced:0'; END IF;
  END IF;
  BEGIN
    FOR i IN 1 .. coalesce(array_length(p_ops, 1), 0) LOOP
      refusal := '';
      SELECT revision, body INTO current_revision, current_body FROM objects
        WHERE kind = p_kinds[i] AND name = p_names[i];
      IF p_ops[i] = 0 THEN
        IF FOUND THEN refusal := 'already_exists'; END IF;
      ELSIF NOT FOUND THEN
        refusal := 'not_found';
      ELSIF p_expected[i] <> 0 AND current_revision <> p_expected[i] THEN
        refusal := 'conflict';
      END IF;
      IF refusal <> '' THEN
        RAISE EXCEPTION USING ERRCODE = 'AL001', MESSAGE = refusal || ':' || i;
      END IF;
      CONTINUE WHEN p_ops[i] = 3;
      rev := rev + 1;
      IF p_ops[i] = 2 THEN
        DELETE FROM objects WHERE kind = p_kinds[i] AND name = p_names[i];
        INSERT INTO changes VALUES (rev, p_kinds[i], p_names[i], true, current_body);
      ELSE
        INSERT INTO objects VALUES (p_kinds[i], p_names[i], rev, rev, p_bodies[i])
          ON CONFLICT (kind, name) DO UPDATE SET revision = rev, body = p_bodies[i];
        INSERT INTO changes VALUES (rev, p_kinds[i], p_names[i], false, p_bodies[i]);
      END IF;
    END LOOP;
  EXCEPTION WHEN SQLSTATE 'AL001' THEN
    RETURN SQLERRM;
  END;
  RETURN '';
END $$;
)sql",
    // 1 -> 2: the servers' service loads.
    R"sql(
CREATE TABLE service_loads (
  server text NOT NULL, service text NOT NULL, body text NOT NULL, at_ms bigint NOT NULL,
  PRIMARY KEY (server, service));
)sql",
};

}  // namespace allot::store
