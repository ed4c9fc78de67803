-- Runs once, when the Postgres volume is created (docker-entrypoint-initdb.d).
--
-- One database per service, each owned by its own login role, and nobody else may connect:
-- "no service reads another's tables" is enforced by the server, not only by convention.
-- The passwords are for the local compose stack only; a cluster takes them from Secrets.

CREATE ROLE user_svc LOGIN PASSWORD 'user_svc';
CREATE DATABASE users OWNER user_svc;
REVOKE ALL ON DATABASE users FROM PUBLIC;

CREATE ROLE inventory_svc LOGIN PASSWORD 'inventory_svc';
CREATE DATABASE inventory OWNER inventory_svc;
REVOKE ALL ON DATABASE inventory FROM PUBLIC;

CREATE ROLE order_svc LOGIN PASSWORD 'order_svc';
CREATE DATABASE orders OWNER order_svc;
REVOKE ALL ON DATABASE orders FROM PUBLIC;

CREATE ROLE payment_svc LOGIN PASSWORD 'payment_svc';
CREATE DATABASE payments OWNER payment_svc;
REVOKE ALL ON DATABASE payments FROM PUBLIC;

-- The metrics exporter's login: the statistics views (pg_monitor), no data.
CREATE ROLE shop_monitor LOGIN PASSWORD 'shop_monitor' IN ROLE pg_monitor;
