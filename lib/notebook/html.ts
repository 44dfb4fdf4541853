/**
 * HTML tables for notebooks (shown with tslab's `display.html`): the kit's one table renderer
 * (lib/eval/tables.ts) under the name the notebooks import.
 */
export { escapeHtml, formatCell, rowsTable as htmlTable, type TableCell as Cell, type RowsTableOptions as TableOptions } from '../eval/tables';
