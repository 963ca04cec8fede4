// delete-todo: the × button removes that one item.
function deleteTodo(id) {
  todos = todos.filter((t) => t.id !== id);
  changed();
}

// baton:features
