-- The ~620 MB benchmarks' wide table (psql -v rows=N -f): a column mix that exercises
-- COPY's text and binary paths: uuid, timestamptz, mid-size text, jsonb with an array,
-- incompressible bytea; GENERATED ALWAYS identity, whose sequence must be carried over.
CREATE EXTENSION IF NOT EXISTS pgcrypto;  -- gen_random_uuid() on PostgreSQL 12
CREATE TABLE app_events (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uid        uuid        NOT NULL,
  created_at timestamptz NOT NULL,
  note       text        NOT NULL,
  attrs      jsonb       NOT NULL,
  payload    bytea       NOT NULL
);
INSERT INTO app_events (uid, created_at, note, attrs, payload)
SELECT gen_random_uuid(),
       timestamptz '2024-01-01 00:00+00' + g * interval '37 seconds' + random() * interval '30 seconds',
       left(repeat(md5(g::text) || ' ' || md5((g * 7)::text) || ' ', 4), 100 + g % 101),
       jsonb_build_object('user_id', g % 10007,
                          'kind', (ARRAY['view', 'click', 'cart', 'buy', 'refund'])[1 + g % 5],
                          'score', round((random() * 1000)::numeric, 2),
                          'active', g % 3 = 0,
                          'tags', jsonb_build_array('t' || g % 7, 't' || g % 11, 't' || g % 13)),
       (SELECT decode(string_agg(md5(g::text || '/' || i), ''), 'hex')
          FROM generate_series(1, 7 + g % 12) AS i)
FROM generate_series(1, :rows) AS g;
CREATE INDEX app_events_created_at_idx ON app_events (created_at);
CREATE INDEX app_events_attrs_gin ON app_events USING gin (attrs);
VACUUM ANALYZE app_events;
CHECKPOINT;
