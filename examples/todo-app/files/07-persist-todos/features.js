// persist-todos: the list is kept in localStorage under STORAGE_KEY as JSON. It is
// saved on every change (see changed()) and loaded once here, before the first render.
const STORAGE_KEY = 'todos.v1';

function save() {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(todos));
}

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || '[]');
    if (!Array.isArray(saved)) return;
    todos = saved
      .filter((t) => t && typeof t.title === 'string')
      .map((t) => ({ id: String(t.id), title: t.title, done: Boolean(t.done) }));
  } catch (err) {
    console.warn('Ignoring unreadable saved todos:', err);
  }
}

load();

// baton:features
