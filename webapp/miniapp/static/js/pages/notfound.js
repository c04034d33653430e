// A page that does not exist: only the chrome.

import { boot } from '../core.js';

boot({ back: true });
