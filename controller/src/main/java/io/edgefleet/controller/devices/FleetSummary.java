package io.edgefleet.controller.devices;

/** Counts of devices by status. */
public record FleetSummary(
    int total,
    int online,
    int offline,
    int neverSeen,
    int pending,
    int rejected,
    int decommissioned) {}
