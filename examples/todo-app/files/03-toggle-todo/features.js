// toggle-todo: the checkbox flips one item between active and done.
function toggleTodo(id) {
  const todo = todos.find((t) => t.id === id);
  if (!todo) return;
  todo.done = !todo.done;
  changed();
}

// baton:features
