  const destroy = document.createElement('button');
  destroy.type = 'button';
  destroy.className = 'destroy';
  destroy.textContent = '×';
  destroy.title = 'Delete';
  destroy.setAttribute('aria-label', `Delete "${todo.title}"`);
  destroy.addEventListener('click', () => deleteTodo(todo.id));
  li.append(destroy);
  // baton:item
