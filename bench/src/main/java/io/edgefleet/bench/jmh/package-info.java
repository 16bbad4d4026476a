/**
 * JMH micro-benchmarks of the controller's and agent's hot paths. Compiled by the build, run only
 * by {@code bench/jmh.sh}; they report figures and assert nothing.
 */
package io.edgefleet.bench.jmh;
