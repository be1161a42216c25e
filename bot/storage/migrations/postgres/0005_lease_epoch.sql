-- 0005: the dispatcher lease's epoch, its fencing token: it grows with every acquisition (a takeover, or a
-- holder back after its own lease lapsed), never with a renewal. A transition fenced by a holder's token
-- happens only while the row still names that holder at that epoch.
ALTER TABLE leases ADD COLUMN epoch BIGINT NOT NULL DEFAULT 1;
