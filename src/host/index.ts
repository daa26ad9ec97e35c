export type { HostFpmSystemOptions } from './fpm-config.js';
export {
  checkFpmConfigFile,
  globFpmInclude,
  hostFpmSystem,
  loadFpmConfig,
  readFpmConfigFile,
} from './fpm-config.js';
