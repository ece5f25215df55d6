// buildah (Debian's package) against the registry: see containers-tools.ts.
import { containersToolSuite } from './containers-tools.js';

containersToolSuite('buildah');
