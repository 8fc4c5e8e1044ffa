/** The orchestrate-ext icon (sidebar tab, toolbar, tabs); `jp-icon3` makes it follow the theme. */
import { LabIcon } from '@jupyterlab/ui-components';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><circle cx="5" cy="6" r="2.6"/><circle cx="5" cy="18" r="2.6"/>
<circle cx="19" cy="12" r="2.6"/><path d="M7.3 6.9l9.9 4.2-.7 1.5-9.9-4.2zM7.3 17.1l9.2-4 .7 1.5-9.2 4z"/></g></svg>`;

export const orchestrateIcon = new LabIcon({ name: 'orchestrate-ext:icon', svgstr: ICON_SVG });
