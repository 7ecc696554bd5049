package pickle

import (
	"errors"
	"fmt"
)

// objects runs the opcodes that name classes and build instances.
func (m *machine) objects(op byte) error {
	switch op {
	case 'c', 0x93: // GLOBAL: module and name as text; STACK_GLOBAL: from the stack
		module, name, err := m.global(op)
		if err != nil {
			return err
		}
		if err := m.charge(64); err != nil {
			return err
		}
		return m.push(findClass(module, name))
	case 'R', 0x81, 0x92: // REDUCE, NEWOBJ, NEWOBJ_EX
		if op == 0x92 {
			kwargs, err := m.pop()
			if err != nil {
				return err
			}
			if d, ok := kwargs.(*pyDict); !ok || len(d.items) > 0 {
				return &UnsupportedTypeError{PythonType: "object", Reason: "built with keyword arguments"}
			}
		}
		args, err := m.pop()
		if err != nil {
			return err
		}
		cls, err := m.pop()
		if err != nil {
			return err
		}
		t, ok := args.(Tuple)
		if !ok {
			return errors.New("pickle: malformed pickle: the arguments of a call are not a tuple")
		}
		return m.call(cls, t, op != 'R')
	case 'i', 'o': // INST: class as text, args since MARK; OBJ: class and args since MARK
		var cls any
		if op == 'i' {
			module, name, err := m.global('c')
			if err != nil {
				return err
			}
			cls = findClass(module, name)
		}
		items, err := m.popMark(false)
		if err != nil {
			return err
		}
		if op == 'o' {
			if len(items) == 0 {
				return errors.New("pickle: malformed pickle: OBJ without a class")
			}
			cls, items = items[0], items[1:]
		}
		return m.call(cls, items, false)
	case 'b': // BUILD
		state, err := m.pop()
		if err != nil {
			return err
		}
		inst, err := m.top()
		if err != nil {
			return err
		}
		return build(inst, state)
	case 'P', 'Q':
		return &UnsupportedTypeError{PythonType: "persistent id", Reason: "pickles that reference outside objects cannot be read"}
	case 0x82, 0x83, 0x84:
		return &UnsupportedTypeError{PythonType: "copyreg extension", Reason: "extension codes are not registered here"}
	case 0x97, 0x98:
		return &UnsupportedTypeError{PythonType: "pickle.PickleBuffer", Reason: "out-of-band buffers are not supported"}
	}
	return fmt.Errorf("pickle: not a pickle: unknown opcode 0x%02x at byte %d", op, m.pos-1)
}

// global reads a class's module and name.
func (m *machine) global(op byte) (module, name string, err error) {
	if op == 'c' {
		mod, err := m.line()
		if err != nil {
			return "", "", err
		}
		n, err := m.line()
		return string(mod), string(n), err
	}
	nv, err := m.pop()
	if err != nil {
		return "", "", err
	}
	mv, err := m.pop()
	if err != nil {
		return "", "", err
	}
	module, ok1 := mv.(string)
	name, ok2 := nv.(string)
	if !ok1 || !ok2 {
		return "", "", errors.New("pickle: malformed pickle: STACK_GLOBAL needs two strings")
	}
	return module, name, nil
}

// call applies cls to args (NEWOBJ: cls.__new__) and pushes the result.
func (m *machine) call(cls any, args []any, isNew bool) error {
	if err := m.charge(64); err != nil {
		return err
	}
	var v any
	var err error
	switch c := cls.(type) {
	case newer:
		if isNew {
			v, err = c.PyNew(args...)
			break
		}
		if f, ok := cls.(caller); ok {
			v, err = f.Call(args...)
			break
		}
		v, err = c.PyNew(args...)
	case caller:
		v, err = c.Call(args...)
	default:
		return fmt.Errorf("pickle: malformed pickle: a call of a %s", pythonTypeOf(cls))
	}
	if err != nil {
		return err
	}
	return m.push(v)
}
