package pcache.shell.internal;

/** The text of {@code pcache:version}. */
final class VersionReport {

    private VersionReport() {
    }

    /**
     * @param shellVersion this bundle's version
     * @param framework the system bundle's symbolic name, e.g. {@code org.apache.felix.framework}
     * @param frameworkVersion the system bundle's version
     * @param javaVersion {@code java.version}
     * @param javaVm {@code java.vm.name} and vendor
     */
    static String format(String shellVersion, String framework, String frameworkVersion, String javaVersion,
            String javaVm) {
        return "pcache.shell " + shellVersion + "\n"
                + "Java " + javaVersion + " (" + javaVm + ")\n"
                + "OSGi framework " + framework + " " + frameworkVersion + "\n";
    }
}
