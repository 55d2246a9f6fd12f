/**
 * The classes of `@kubernetes/client-node` that run in terwayd: everything else in the project
 * imports them from here (types may come from the package itself).
 *
 * The build replaces this module in dist/ by a bundle of just these classes and what they use
 * (scripts/build.mjs). The package's KubeConfig imports its generated API, every API class and
 * model, for one configuration factory: a process that imports these three classes from the
 * package holds 90 MB, against 57 MB from the bundle and 43 MB with neither (measured, RSS once
 * idle), and takes 0.3 s more to start. The bundle is the same code, unmodified, without the parts
 * nothing here reaches. Tests compile this file from source, so they run the package as published.
 */
export { KubeConfig, ListWatch, Watch } from '@kubernetes/client-node';
