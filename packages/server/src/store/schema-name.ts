/** What a PostgreSQL schema name must look like: it is quoted into every statement. */
export const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
