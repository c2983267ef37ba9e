package pcache.api.spi;

import java.io.IOException;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Decides how dirty data reaches the backing device. Registered as a service with the property
 * {@link #NAME}; a cache can switch policy at run time, effective at the next step. A policy
 * must keep the invariant the cache relies on: dirty_tail advances past a kset only after every
 * non-CLEAN byte of it that is still current within the step was written and the backing device
 * was flushed. Policies are stateless between steps or keep their state per context.
 */
@ConsumerType
public interface WritebackPolicy {

    /** Service property: the policy's name, e.g. {@code ordered} or {@code batching}. */
    String NAME = "pcache.writeback.policy";

    /** The value of {@link #NAME}. */
    String name();

    /** Performs one write-back step. */
    WritebackOutcome step(WritebackContext context) throws IOException, InterruptedException;
}
