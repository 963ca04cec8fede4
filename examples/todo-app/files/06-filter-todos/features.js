// filter-todos: the URL hash chooses the filter (#/, #/active, #/done), so a filter
// can be bookmarked and the back button moves between filters.
const FILTER_BY_HASH = { '': 'all', '#/': 'all', '#/active': 'active', '#/done': 'done' };
let currentFilter = 'all';

function readFilterFromHash() {
  currentFilter = FILTER_BY_HASH[location.hash] || 'all';
  for (const link of document.querySelectorAll('#filters a')) {
    link.classList.toggle('selected', link.dataset.filter === currentFilter);
  }
}

window.addEventListener('hashchange', () => {
  readFilterFromHash();
  render();
});
readFilterFromHash();

// baton:features
