  const toggle = document.createElement('input');
  toggle.type = 'checkbox';
  toggle.className = 'toggle';
  toggle.checked = todo.done;
  toggle.setAttribute('aria-label', `Mark "${todo.title}" as done`);
  toggle.addEventListener('change', () => toggleTodo(todo.id));
  li.classList.toggle('done', todo.done);
  li.append(toggle, title);
